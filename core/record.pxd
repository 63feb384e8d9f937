# Record layout (docs/DESIGN.md 4): little-endian header of 67 bytes, then the UTF-8 texts
# full_name, address, issuer. Header-only: offsets shared by the encoder and the reader.
cdef enum:
    RECORD_VERSION = 1
    RECORD_COMPACT = 2   # the version a snapshot stores now (DESIGN 4); 1 is the build's own
    OFF_VERSION = 0
    OFF_GENDER = 1
    OFF_STATUS = 2
    OFF_MANAGED_BY = 3
    OFF_REGION = 4
    OFF_RESERVED = 5
    OFF_NAME_LEN = 6
    OFF_ADDRESS_LEN = 8
    OFF_ISSUER_LEN = 10
    OFF_DOB = 12
    OFF_VALID_FROM = 16
    OFF_VALID_TO = 20
    OFF_FIVE_YEAR = 24
    OFF_PREV_VALID_TO = 28
    OFF_CARD_NO = 32
    OFF_FACILITY = 47
    OFF_PREV_CARD_NO = 52
    HEADER_SIZE = 67
    CARD_LEN = 15
    FACILITY_LEN = 5
    KEY_LEN = 8          # CCCD and social insurance number keys: 8-byte big-endian integers
    # The build's card keys and bhxh sorter entries: lookup/reference/csvrows.py card_key
    HEAD_BITS = 19
    HEAD_LEN = 3

cdef enum Status:
    ST_ACTIVE = 0
    ST_REVOKED = 1
    ST_REDUCED = 2
    ST_REDUCED_OUT_PROVINCE = 3
    ST_REDUCED_IN_PROVINCE = 4
    ST_REDUCED_REJOINED = 5
    ST_REDUCED_STOPPED = 6

cdef enum ManagedBy:
    MB_VSS = 0
    MB_DEFENCE = 1
    MB_POLICE = 2
