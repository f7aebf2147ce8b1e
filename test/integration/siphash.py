"""The module's slot hash in Python, for tests that build a table of a
known layout under modparam hash_key.

modules/aor/hash.c: SipHash-1-3 (one SipRound per 8-byte word, three to
finalize) under a 16-byte key read as two little-endian words k0, k1; the
hash of an AoR key is the low 32 bits, and its slot is that hash masked by
the table's size (store.c: hash & mask).
"""

M = (1 << 64) - 1

# SipHash-1-3, key all zeros, message 00 01 02 ... of the given length:
# the first vectors of test/unit/test_hash.c (OCaml's testsuite
# hash/sip13.ml, from the reference code of github.com/veorq/SipHash)
ZERO_KEY_VECTORS = {
    0: 0xd1fba762150c532c,
    1: 0x68a914128e01e473,
    7: 0x2f098ab0c751325a,
    8: 0xead411e67ebe2eea,
    15: 0xf30eb725bb91c9ea,
    16: 0x8972188433a5c5b7,
    63: 0x385d3e39e5f37359,
}


def siphash13(key, data):
    """SipHash-1-3 of bytes data under the 16-byte key, all 64 bits
    (hash.c's sip13; the SipRounds written out, for speed)."""
    assert len(key) == 16
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    v0 = k0 ^ 0x736f6d6570736575
    v1 = k1 ^ 0x646f72616e646f6d
    v2 = k0 ^ 0x6c7967656e657261
    v3 = k1 ^ 0x7465646279746573
    n = len(data)
    full = n - n % 8
    words = [int.from_bytes(data[i:i + 8], "little")
             for i in range(0, full, 8)]
    # the last word: the tail bytes, the length (mod 256) in the top byte
    words.append(int.from_bytes(data[full:], "little") | (n & 0xff) << 56)
    # c = 1: one SipRound per word; then d = 3
    for i in range(len(words) + 3):
        if i < len(words):
            m = words[i]
            v3 ^= m
        elif i == len(words):
            v2 ^= 0xff
        v0 = (v0 + v1) & M
        v1 = ((v1 << 13) | (v1 >> 51)) & M ^ v0
        v0 = ((v0 << 32) | (v0 >> 32)) & M
        v2 = (v2 + v3) & M
        v3 = ((v3 << 16) | (v3 >> 48)) & M ^ v2
        v0 = (v0 + v3) & M
        v3 = ((v3 << 21) | (v3 >> 43)) & M ^ v0
        v2 = (v2 + v1) & M
        v1 = ((v1 << 17) | (v1 >> 47)) & M ^ v2
        v2 = ((v2 << 32) | (v2 >> 32)) & M
        if i < len(words):
            v0 ^= m
    return v0 ^ v1 ^ v2 ^ v3


def aor_hash(hex_key, aor_key):
    """aor_hash() of the module under modparam hash_key=hex_key, of the
    store key of an AoR (the user part alone with use_domain=0)."""
    return siphash13(bytes.fromhex(hex_key), aor_key.encode()) & 0xffffffff


def self_check():
    """Raises AssertionError unless siphash13 gives the published vectors."""
    msg = bytes(range(64))
    for n, want in ZERO_KEY_VECTORS.items():
        got = siphash13(bytes(16), msg[:n])
        assert got == want, "length %d: %016x, expected %016x" % (n, got,
                                                                   want)
