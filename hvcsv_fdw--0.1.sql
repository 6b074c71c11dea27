/* hvcsv_fdw--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION hvcsv_fdw" to load this file. \quit

CREATE FUNCTION hvcsv_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION hvcsv_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER hvcsv_fdw
  HANDLER hvcsv_fdw_handler
  VALIDATOR hvcsv_fdw_validator;
