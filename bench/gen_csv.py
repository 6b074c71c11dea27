#!/usr/bin/env python3
"""Writes a deterministic, "seed-shaped" CSV export for the hvcsv_fdw benchmark.

Usage:
    python3 bench/gen_csv.py [--rows N] [--seed S] [--out PATH]

Columns: has_id,name,city,created_at,email,country,amount,quantity,active,notes
(header first, LF line ends, UTF-8).  The same --rows and --seed always give
the same bytes.  Some names hold a comma or doubled quotes, some cities are
non-ASCII, about 2% of the notes hold a quoted embedded newline and others
quoted commas, so a reader has to do real CSV parsing.  Rows average about
135 bytes.

Speed (well over 300k rows/s) comes from building a block of rows at once:
adjacent columns are drawn together from pre-formatted pools of 65536
random combinations, with one random 16-bit index per row and pool
(random.randbytes); only the id is new in every row.
"""
import argparse
import array
import random
import sys

HEADER = "has_id,name,city,created_at,email,country,amount,quantity,active,notes"
POOL = 1 << 16      # every value pool has this many entries
BLOCK = 100_000     # rows generated per step; ids change prefix per block

FIRST = ["Anna", "Ben", "Carla", "David", "Elif", "Felix", "Greta", "Hugo",
         "Ines", "Jonas", "Karin", "Lukas", "Maria", "Noah", "Olga", "Paul",
         "Quinn", "Rosa", "Stefan", "Tara", "Ulrich", "Vera", "William",
         "Xenia", "Yusuf", "Zoe", "Amelie", "Bruno", "Chloe", "Dmitri",
         "Emma", "Finn", "Gabriel", "Hannah", "Ivan", "Julia", "Kai", "Lena",
         "Marco", "Nina"]
LAST = ["Schmidt", "Muller", "Rossi", "Garcia", "Silva", "Novak", "Dubois",
        "Jensen", "Kowalski", "Tanaka", "Smith", "Brown", "Weber", "Fischer",
        "Costa", "Martin", "Nielsen", "Horvat", "Ivanova", "OBrien", "Meyer",
        "Wagner", "Becker", "Hoffmann", "Lopez", "Moreau", "Santos", "Berg",
        "Lindqvist", "Kaya"]
NICK = ["Ace", "Bear", "Doc", "Red", "Sunny", "Tex"]
# (city, weight); the non-ASCII ones make the UTF-8 path matter.
CITIES = [("Berlin", 8), ("Zürich", 5), ("São Paulo", 5), ("München", 4),
          ("Paris", 6), ("London", 8), ("New York", 7), ("Kraków", 3),
          ("Malmö", 2), ("Tokyo", 5), ("Madrid", 4), ("Wien", 3),
          ("Reykjavík", 1), ("Düsseldorf", 2), ("Lisbon", 3), ("Chicago", 4),
          ("Toronto", 3), ("Montréal", 2), ("Oslo", 2), ("Córdoba", 2)]
COUNTRIES = ["DE", "CH", "BR", "FR", "GB", "US", "PL", "SE", "JP", "ES",
             "AT", "IS", "PT", "CA", "NO", "AR", "IT", "NL", "DK", "FI"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.de",
           "example.co.uk"]
WORDS = ("order shipped late customer called twice about the invoice please "
         "check address updated new contact preferred delivery window "
         "morning only fragile handle with care discount applied loyalty "
         "member since renewal pending follow up next week no answer "
         "refund issued partial payment received").split()


def quote(s):
    """CSV-quotes s when it needs it, doubling embedded quotes."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def name_pool(rng):
    pool = []
    for f in FIRST:
        for l in LAST:
            pool.append(f"{f} {l}")
            pool.append(f"{f} {l}")
            pool.append(f"{f} {l}")
            pool.append(quote(f"{l}, {f}"))           # comma inside
    # Roughly 1 name in 30 has a nickname in doubled quotes.
    for _ in range(len(pool) // 30):
        pool.append(quote(f'{rng.choice(FIRST)} "{rng.choice(NICK)}" {rng.choice(LAST)}'))
    return pool


def notes_pool(rng, size=POOL):
    pool = []
    for _ in range(size):
        words = rng.choices(WORDS, k=rng.randint(2, 7))
        r = rng.random()
        if r < 0.02:
            # Embedded newline: a record spanning two physical lines.
            cut = rng.randint(1, len(words) - 1)
            text = " ".join(words[:cut]) + "\n" + " ".join(words[cut:])
        elif r < 0.15:
            cut = rng.randint(1, len(words) - 1)
            text = " ".join(words[:cut]) + ", " + " ".join(words[cut:])
        elif r < 0.18:
            text = " ".join(words) + ' "as discussed"'
        elif r < 0.25:
            text = ""
        else:
            text = " ".join(words)
        pool.append(quote(text))
    return pool


def picker(rng):
    """Returns pick(pool, n): n random entries of a POOL-entry pool."""
    def pick(pool, n):
        idx = array.array("H")
        idx.frombytes(rng.randbytes(2 * n))
        if sys.byteorder == "big":      # same bytes out on any machine
            idx.byteswap()
        return list(map(pool.__getitem__, idx))
    return pick


def generate(out, rows, seed):
    rng = random.Random(seed)
    pick = picker(rng)
    notes = notes_pool(rng)
    # Adjacent columns come pre-joined from pools of POOL random
    # combinations, so each row needs few picks and one f-string.
    names = name_pool(rng)
    cities = rng.choices([c for c, _ in CITIES], [w for _, w in CITIES], k=POOL)
    name_city = [f"{n},{c}" for n, c in zip(rng.choices(names, k=POOL), cities)]
    # created_at: uniform over 2023-2024, to the second.
    days = []
    for y in (2023, 2024):
        for m, n in enumerate((31, 29 if y % 4 == 0 else 28, 31, 30, 31, 30,
                               31, 31, 30, 31, 30, 31), 1):
            days.extend(f"{y}-{m:02d}-{d:02d}T" for d in range(1, n + 1))
    created = [f"{rng.choice(days)}{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z"
               for t in rng.choices(range(86400), k=POOL)]
    # email = local part + id number + "@domain"; the domain carries on with
    # the columns after it: ",country,amount,quantity,active".
    locals_ = rng.choices([f"{f.lower()}.{l.lower()}." for f in FIRST for l in LAST], k=POOL)
    quantities = [str(q) for q in range(1, 101)] + [str(q) for q in range(100, 5001, 50)]
    tails = []
    for _ in range(POOL):
        cents = rng.randrange(1, 500_000)
        tails.append(f"@{rng.choice(DOMAINS)},{rng.choice(COUNTRIES)},"
                     f"{cents // 100}.{cents % 100:02d},{rng.choice(quantities)},"
                     f"{'true' if rng.random() < 0.7 else 'false'}")
    # Ids are "H" + 7 digits: a per-block prefix and a precomputed 5-digit
    # suffix, to avoid formatting every number.
    suffixes = [f"{i:05d}" for i in range(BLOCK)]

    out.write(HEADER + "\n")
    block = 0
    while block * BLOCK <= rows:
        lo = max(1, block * BLOCK) - block * BLOCK
        hi = min(rows + 1, (block + 1) * BLOCK) - block * BLOCK
        if hi <= lo:
            break
        n = hi - lo
        prefix = f"{block:02d}"
        lines = [f"H{x},{nc},{ts},{lp}{x}{tl},{nt}\n"
                 for x, nc, ts, lp, tl, nt in zip(
                     [prefix + s for s in suffixes[lo:hi]],
                     pick(name_city, n), pick(created, n), pick(locals_, n),
                     pick(tails, n), pick(notes, n))]
        out.write("".join(lines))
        block += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="-", help="file to write; - for stdout")
    args = ap.parse_args()
    if args.rows < 0:
        ap.error("--rows must be >= 0")
    if args.out == "-":
        out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="",
                   buffering=1 << 22, closefd=False)
    else:
        out = open(args.out, "w", encoding="utf-8", newline="", buffering=1 << 22)
    with out:
        generate(out, args.rows, args.seed)


if __name__ == "__main__":
    main()
