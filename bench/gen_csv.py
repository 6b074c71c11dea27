#!/usr/bin/env python3
"""Writes a deterministic, "seed-shaped" CSV export for the hvcsv_fdw benchmark.

Usage:
    python3 bench/gen_csv.py [--rows N] [--seed S] [--change PCT] [--out PATH]

Columns: has_id,name,city,created_at,email,country,amount,quantity,active,notes
(header first, LF line ends, UTF-8).  The same --rows and --seed always give
the same bytes.  has_id is unique (H0000001, H0000002, ...); some names hold
a comma or doubled quotes, about a third of the cities are non-ASCII, about
2% of the notes hold a quoted embedded newline and about 13% quoted commas,
so a reader has to do real CSV parsing.  Rows average about 135 bytes.

Speed (pure Python, several hundred thousand rows/s) comes from building a
block of rows at once from three pools of pre-formatted fragments
    head = name,city,created_at,<email local part>.
    tail = @<domain>,country,amount,quantity,active
    note = notes
so that a row is "H" + id + "," + head + id + tail + "," + note: three random
picks (16-bit indexes from random.randbytes) and one f-string per row.  The
pools hold 16384 distinct random fragments each, so combinations vary.

--change PCT writes a later version of the same export: the same bytes,
except that exactly round(rows * PCT / 100) rows, picked at random by an
RNG of their own (so the other rows stay byte-identical), have their amount
raised by 1.00.  The ids do not change, so sum(amount) grows by exactly the
number of changed rows.
"""
import argparse
import array
import random
import sys

HEADER = "has_id,name,city,created_at,email,country,amount,quantity,active,notes"
DISTINCT = 1 << 14  # distinct fragments per pool
POOL = 1 << 16      # pool length: any 16-bit number indexes it
BLOCK = 10_000      # rows per step; the id's last 4 digits come precomputed

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
CITIES = ["Berlin", "Zürich", "São Paulo", "München", "Paris", "London",
          "New York", "Kraków", "Malmö", "Tokyo", "Madrid", "Wien",
          "Reykjavík", "Düsseldorf", "Lisbon", "Chicago", "Toronto",
          "Montréal", "Oslo", "Córdoba"]
CITY_WEIGHTS = [8, 5, 5, 4, 6, 8, 7, 3, 2, 5, 4, 3, 1, 2, 3, 4, 3, 2, 2, 2]
COUNTRIES = ["DE", "CH", "BR", "FR", "GB", "US", "PL", "SE", "JP", "ES",
             "AT", "IS", "PT", "CA", "NO", "AR", "IT", "NL", "DK", "FI"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.de",
           "example.co.uk"]
QUANTITIES = list(range(1, 101)) + list(range(100, 5001, 50))
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


def as_bytes_str(s):
    """s's UTF-8 bytes as a Latin-1 str.

    Rows are assembled as str (f-strings are the fastest way) and written
    with .encode("latin-1"), which for such strings is a plain copy, whereas
    encoding real non-ASCII text to UTF-8 row by row costs as much as
    building the rows."""
    return s.encode("utf-8").decode("latin-1")


def head_pool(rng):
    days = []
    for y in (2023, 2024):
        for m, n in enumerate((31, 29 if y % 4 == 0 else 28, 31, 30, 31, 30,
                               31, 31, 30, 31, 30, 31), 1):
            days.extend(f"{y}-{m:02d}-{d:02d}T" for d in range(1, n + 1))
    cities = rng.choices(CITIES, CITY_WEIGHTS, k=DISTINCT)
    pool = []
    for city in cities:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        r = rng.random()
        if r < 0.03:
            name = quote(f'{first} "{rng.choice(NICK)}" {last}')
        elif r < 0.20:
            name = quote(f"{last}, {first}")
        else:
            name = f"{first} {last}"
        t = rng.randrange(86400)
        created = f"{rng.choice(days)}{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z"
        pool.append(as_bytes_str(f"{name},{city},{created},{first.lower()}.{last.lower()}."))
    return pool


def tail_pool(rng):
    pool = []
    for _ in range(DISTINCT):
        cents = rng.randrange(1, 500_000)
        active = "true" if rng.random() < 0.7 else "false"
        pool.append(f"@{rng.choice(DOMAINS)},{rng.choice(COUNTRIES)},"
                    f"{cents // 100}.{cents % 100:02d},{rng.choice(QUANTITIES)},{active}")
    return pool


def note_pool(rng):
    pool = []
    for _ in range(DISTINCT):
        words = rng.choices(WORDS, k=rng.randint(2, 7))
        cut = rng.randint(1, len(words) - 1)
        r = rng.random()
        if r < 0.02:
            # Embedded newline: a record spanning two physical lines.
            text = " ".join(words[:cut]) + "\n" + " ".join(words[cut:])
        elif r < 0.15:
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
        if sys.byteorder == "big":      # same output on any machine
            idx.byteswap()
        return [pool[i] for i in idx]
    return pick


def bump_amount(tail):
    """The tail fragment with its amount (third field) raised by 1.00."""
    fields = tail.split(",")
    units, cents = fields[2].split(".")
    fields[2] = f"{int(units) + 1}.{cents}"
    return ",".join(fields)


def changed_ids(rows, seed, pct):
    """The ids whose amount --change PCT changes, as a set."""
    k = round(rows * pct / 100)
    return set(random.Random(f"change-{seed}").sample(range(1, rows + 1), k)) if k else set()


def generate(out, rows, seed, change=0.0):
    """Writes the header and `rows` rows to the binary file out."""
    changed = changed_ids(rows, seed, change)
    rng = random.Random(seed)
    reps = POOL // DISTINCT
    heads = head_pool(rng) * reps
    tails = tail_pool(rng) * reps
    notes = note_pool(rng) * reps
    pick = picker(rng)
    suffixes = [f"{i:04d}" for i in range(BLOCK)]

    out.write((HEADER + "\n").encode("ascii"))
    # Block b holds the ids b*BLOCK .. b*BLOCK+BLOCK-1 (ids start at 1).
    for b in range(rows // BLOCK + 1):
        lo = 1 if b == 0 else 0
        hi = min(BLOCK, rows + 1 - b * BLOCK)
        n = hi - lo
        if n <= 0:
            break
        prefix = f"{b:03d}"
        hs, ts, cs = pick(heads, n), pick(tails, n), pick(notes, n)
        if changed:
            for i in range(n):
                if b * BLOCK + lo + i in changed:
                    ts[i] = bump_amount(ts[i])
        lines = [f"H{x},{h}{x}{t},{c}\n" for x, h, t, c in zip(
                 [prefix + s for s in suffixes[lo:hi]], hs, ts, cs)]
        out.write("".join(lines).encode("latin-1"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--change", type=float, default=0.0, metavar="PCT",
                    help="percentage of rows whose amount is raised by 1.00 (a later version)")
    ap.add_argument("--out", default="-", help="file to write; - for stdout")
    args = ap.parse_args()
    if args.rows < 0:
        ap.error("--rows must be >= 0")
    if not 0 <= args.change <= 100:
        ap.error("--change must be between 0 and 100")
    if args.out == "-":
        out = open(sys.stdout.fileno(), "wb", buffering=1 << 22, closefd=False)
    else:
        out = open(args.out, "wb", buffering=1 << 22)
    with out:
        generate(out, args.rows, args.seed, args.change)


if __name__ == "__main__":
    main()
