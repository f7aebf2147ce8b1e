/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of aor_key_build (uri.c) and aor_uri_split (uri_split.c), against
 * Kamailio's own parse_uri (kamailio_uri.h). The input is one URI, copied
 * into a buffer of exactly its length. Checks that aor_uri_split fails
 * exactly when parse_uri does and otherwise gives its user and host, that
 * aor_uri_simple gives parse_uri's user and host whenever it takes a URI,
 * and, for each of the four key options, that the key is the one the
 * glue's aor_key_from_uri builds (from aor_uri_simple's, else parse_uri's
 * user and host, with the raw bytes rule of uri.h), fits its URI's length and any buffer of its
 * own length but not one byte less, holds no control byte or space,
 * folds case and appends the domain as the options say, and is its own
 * key again when it reads back as a SIP URI.
 */

#include "fuzz.h"
#include "errors.h"
#include "uri.h"
#include "kamailio_uri.h"

static str dup_str(const uint8_t *p, size_t n)
{
	str s;

	s.s = malloc(n ? n : 1);
	CHECK(s.s != NULL);
	if(n)
		memcpy(s.s, p, n);
	s.len = (int)n;
	return s;
}

static int same(const str *a, const str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

static int raw_ctl(const str *s)
{
	int i;

	for(i = 0; i < s->len; i++)
		if((unsigned char)s->s[i] <= 0x20 || s->s[i] == 0x7f)
			return 1;
	return 0;
}

/* the key as lookup.c's aor_key_from_uri builds it (aor_uri_simple, else
 * parse_uri; its user_canon, tolower), plus the raw bytes rule: the
 * length, or -1 where it fails */
static int ref_key(const str *uri, const aor_key_opts_t *o, char *out)
{
	str u, h;
	int i, n = 0, hi, lo, v;

	if(uri->len <= 0 || uri->len > AOR_KEY_URI_MAX)
		return -1;
	/* aor_key_from_uri takes aor_uri_simple's reading first, so also of a
	 * URI parse_uri fails on */
	if(!aor_uri_simple(uri, &u, &h) && kamailio_user_host(uri, &u, &h) < 0)
		return -1;
	if(u.len == 0 || raw_ctl(&u) || (o->use_domain && raw_ctl(&h)))
		return -1;
	for(i = 0; i < u.len; i++) {
		if(u.s[i] != '%') {
			out[n++] = u.s[i];
			continue;
		}
		if(i + 2 >= u.len || (hi = aor_hexval(u.s[i + 1])) < 0
				|| (lo = aor_hexval(u.s[i + 2])) < 0)
			return -1;
		v = hi << 4 | lo;
		i += 2;
		if(v > 0x20 && v < 0x7f && v != '%') {
			out[n++] = (char)v;
		} else {
			out[n++] = '%';
			out[n++] = "0123456789ABCDEF"[hi];
			out[n++] = "0123456789ABCDEF"[lo];
		}
	}
	if(!o->case_sensitive)
		for(i = 0; i < n; i++)
			out[i] = (char)tolower((unsigned char)out[i]);
	if(o->use_domain && h.len > 0) {
		out[n++] = '@';
		for(i = 0; i < h.len; i++)
			out[n++] = (char)tolower((unsigned char)h.s[i]);
	}
	return n;
}

/* 1 when uri ends in a parameter ";ma" to ";maddr=" (any case), on which
 * parse_uri fails */
static int maddr_tail(const str *uri)
{
	static const char m[] = ";maddr=";
	int i, n;

	for(n = 3; n <= 7; n++) {
		if(uri->len < n)
			return 0;
		for(i = 0; i < n; i++)
			if((uri->s[uri->len - n + i] | (i > 0 && i < 6 ? 0x20 : 0)) != m[i])
				break;
		if(i == n)
			return 1;
	}
	return 0;
}

/* aor_uri_split and aor_uri_simple against parse_uri */
static void check_split(const str *uri)
{
	str ku, kh, u, h;
	int kr, r;

	kr = kamailio_user_host(uri, &ku, &kh);
	r = aor_uri_split(uri, &u, &h);
	CHECK(r == kr);
	if(r == 0) {
		CHECK(u.len == ku.len && (u.len == 0 || u.s == ku.s));
		CHECK(h.len == kh.len && (h.len == 0 || h.s == kh.s));
	}
	/* aor_uri_simple also takes a URI that ends inside "maddr=" (see
	 * aor_uri_split) */
	if(aor_uri_simple(uri, &u, &h) && kr == 0)
		CHECK(same(&u, &ku) && same(&h, &kh));
	else if(aor_uri_simple(uri, &u, &h))
		CHECK(maddr_tail(uri));
}

/* "sip:" user "@" host of a key, as text, when it reads back as that user
 * and host (no ':', '@', '[', ']' in the user, a plain host); else 0 */
static int key_uri(const str *user, const str *host, char *out, int max)
{
	int i, n;

	if(user->len == 0 || user->len + host->len + 6 > max)
		return 0;
	for(i = 0; i < user->len; i++)
		if(strchr(":@[]", user->s[i]) != NULL)
			return 0;
	for(i = 0; i < host->len; i++)
		if(!isalnum((unsigned char)host->s[i]) && host->s[i] != '.'
				&& host->s[i] != '-')
			return 0;
	if(host->len > 0 && !isalnum((unsigned char)host->s[0]))
		return 0;
	n = sprintf(out, "sip:%.*s@%.*s", user->len, user->s,
			host->len ? host->len : 1, host->len ? host->s : "h");
	return n;
}

static void check_key(const str *uri, const aor_key_opts_t *o, str *key)
{
	char ref[3 * AOR_KEY_URI_MAX], *small;
	str k2;
	int r, n;

	key->s = malloc(uri->len ? uri->len : 1);
	CHECK(key->s != NULL);
	r = aor_key_build(uri, o, key->s, uri->len, key);
	n = ref_key(uri, o, ref);
	CHECK(r == 0 || r == AOR_E_BAD_AOR);
	CHECK((r == 0) == (n >= 0));
	if(r != 0) {
		key->len = -1;
		return;
	}
	CHECK(key->len == n && memcmp(key->s, ref, n) == 0);
	CHECK(key->len > 0 && key->len <= uri->len);
	CHECK(!raw_ctl(key));
	/* a buffer of the key's length holds it, one byte less does not */
	small = malloc(key->len);
	CHECK(small != NULL);
	CHECK(aor_key_build(uri, o, small, key->len, &k2) == 0 && same(&k2, key));
	CHECK(aor_key_build(uri, o, small, key->len - 1, &k2) == AOR_E_TOO_LONG);
	free(small);
}

/* the key of the key, read back as a SIP URI, is the key */
static void check_again(const str *user, const str *host, int cs)
{
	aor_key_opts_t o = {1, cs, {NULL, 0}};
	char u[AOR_KEY_URI_MAX + 8], buf[AOR_KEY_URI_MAX];
	str s, k;
	int n;

	if((n = key_uri(user, host, u, sizeof(u))) == 0 || n > AOR_KEY_URI_MAX)
		return;
	s.s = u;
	s.len = n;
	CHECK(aor_key_build(&s, &o, buf, sizeof(buf), &k) == 0);
	CHECK(k.len == n - 4);
	CHECK(memcmp(k.s, u + 4, user->len) == 0);
	CHECK(host->len == 0
			|| memcmp(k.s + user->len + 1, host->s, host->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	aor_key_opts_t o;
	str uri, key[4], host;
	int i;

	if(size > 2 * AOR_KEY_URI_MAX)
		return 0;
	uri = dup_str(data, size);
	check_split(&uri);
	/* key[use_domain * 2 + case_sensitive] */
	for(i = 0; i < 4; i++) {
		o.use_domain = i >> 1;
		o.case_sensitive = i & 1;
		check_key(&uri, &o, &key[i]);
	}
	/* the options change the key only as they say: case_sensitive folds
	 * the user, use_domain appends "@host" (and checks the host) */
	CHECK((key[0].len < 0) == (key[1].len < 0));
	CHECK((key[2].len < 0) == (key[3].len < 0));
	CHECK(key[2].len < 0 || key[0].len >= 0);
	if(key[0].len >= 0) {
		CHECK(key[1].len == key[0].len);
		for(i = 0; i < key[0].len; i++)
			CHECK(key[0].s[i] == (char)tolower((unsigned char)key[1].s[i]));
	}
	if(key[2].len >= 0) {
		CHECK(key[3].len == key[2].len && key[2].len >= key[0].len);
		CHECK(memcmp(key[2].s, key[0].s, key[0].len) == 0);
		CHECK(key[2].len == key[0].len || key[2].s[key[0].len] == '@');
		host.s = key[2].s + key[0].len + 1;
		host.len = key[2].len > key[0].len ? key[2].len - key[0].len - 1 : 0;
		check_again(&key[0], &host, 0);
		host.s = key[3].s + key[1].len + 1;
		check_again(&key[1], &host, 1);
	}
	for(i = 0; i < 4; i++)
		free(key[i].s);
	free(uri.s);
	return 0;
}
