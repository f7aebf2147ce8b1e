/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of uri.c: RFC 3261 19.1.4 URI equality, the plain-URI fast
 * path, the user and host as parse_uri finds them, and the AoR key.
 */

#include <string.h>

#include "unit.h"
#include "errors.h"
#include "uri.h"

/* aor_uri_equal(a, b), checked to be symmetric */
static int uri_eq(const char *a, const char *b)
{
	str sa = STR_C(a), sb = STR_C(b);
	int ab = aor_uri_equal(&sa, &sb), ba = aor_uri_equal(&sb, &sa);

	if(ab != ba) {
		fprintf(stderr, "not symmetric: %s vs %s: %d, %d\n", a, b, ab, ba);
		return -2;
	}
	return ab;
}

#define ASSERT_URI_EQ(a, b, want)                                          \
	do {                                                                   \
		int unit_r = uri_eq(a, b);                                         \
		if(unit_r != (want))                                               \
			UNIT_FAIL("aor_uri_equal(\"%s\", \"%s\") = %d, want %d", a, b, \
					unit_r, want);                                         \
	} while(0)

/* RFC 3261 19.1.4: "The following are equivalent" (the four example
 * groups), each pair of the three-way group included */
TEST(uri_rfc3261_19_1_4_equivalent_examples_are_equal)
{
	ASSERT_URI_EQ("sip:%61lice@atlanta.com;transport=TCP",
			"sip:alice@AtLanTa.CoM;Transport=tcp", 1);
	ASSERT_URI_EQ(
			"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", 1);
	ASSERT_URI_EQ(
			"sip:carol@chicago.com", "sip:carol@chicago.com;security=on", 1);
	ASSERT_URI_EQ("sip:carol@chicago.com;newparam=5",
			"sip:carol@chicago.com;security=on", 1);
	ASSERT_URI_EQ("sip:biloxi.com;transport=tcp;method=REGISTER"
				  "?to=sip:bob%40biloxi.com",
			"sip:biloxi.com;method=REGISTER;transport=tcp"
			"?to=sip:bob%40biloxi.com",
			1);
	ASSERT_URI_EQ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
			"sip:alice@atlanta.com?priority=urgent&subject=project%20x", 1);
}

/* RFC 3261 19.1.4: "The following are not equivalent" (the examples
 * whose verdict follows from the normative bullets) */
TEST(uri_rfc3261_19_1_4_not_equivalent_examples_differ)
{
	/* userinfo is compared case-sensitively */
	ASSERT_URI_EQ("SIP:ALICE@AtLanTa.CoM;Transport=udp",
			"sip:alice@AtLanTa.CoM;Transport=UDP", 0);
	/* an omitted port never matches an explicit 5060 */
	ASSERT_URI_EQ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", 0);
	ASSERT_URI_EQ(
			"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", 0);
	/* header components are never ignored */
	ASSERT_URI_EQ("sip:carol@chicago.com",
			"sip:carol@chicago.com?Subject=next%20meeting", 0);
	/* no DNS: a name never equals the address it resolves to */
	ASSERT_URI_EQ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", 0);
}

/* RFC 3261 19.1.4: "A URI omitting any component with a default value
 * will not match a URI explicitly containing that component with its
 * default value. [...] The same is true for the transport-parameter,
 * ttl-parameter, user-parameter, and method components." The example list
 * agrees: sip:bob@biloxi.com and sip:bob@biloxi.com;transport=udp are not
 * equivalent. Case variants of the value are. */
TEST(uri_transport_in_only_one_uri_does_not_match)
{
	ASSERT_URI_EQ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", 0);
	ASSERT_URI_EQ("sip:bob@192.0.2.4:5060;transport=udp",
			"sip:bob@192.0.2.4:5060;transport=UDP;ob", 1);
	/* present in both: must match (case-insensitively) */
	ASSERT_URI_EQ("sip:bob@biloxi.com;transport=udp",
			"sip:bob@biloxi.com;transport=tcp", 0);
}

/* RFC 3261 19.1.4: "Any uri-parameter appearing in both URIs must match";
 * and equality is not transitive (the security=on/off example) */
TEST(uri_parameter_in_both_must_match)
{
	ASSERT_URI_EQ("sip:carol@chicago.com;newparam=5",
			"sip:carol@chicago.com;newparam=6", 0);
	ASSERT_URI_EQ("sip:carol@chicago.com;security=on",
			"sip:carol@chicago.com;security=off", 0);
	ASSERT_URI_EQ(
			"sip:carol@chicago.com", "sip:carol@chicago.com;security=off", 1);
	ASSERT_URI_EQ("sip:carol@chicago.com;lr", "sip:carol@chicago.com;lr=on", 0);
	/* order does not matter, names and values are case-insensitive */
	ASSERT_URI_EQ("sip:carol@chicago.com;a=1;B=x",
			"sip:carol@chicago.com;b=X;A=1", 1);
}

/* RFC 3261 19.1.4: "A user, ttl, or method uri-parameter appearing in only
 * one URI never matches, even if it contains the default value"; "A URI
 * that includes an maddr parameter will not match a URI that contains no
 * maddr parameter." */
TEST(uri_user_ttl_method_maddr_in_only_one_uri_never_match)
{
	ASSERT_URI_EQ(
			"sip:+123@gw.example.com", "sip:+123@gw.example.com;user=phone", 0);
	ASSERT_URI_EQ("sip:bob@biloxi.com", "sip:bob@biloxi.com;ttl=1", 0);
	ASSERT_URI_EQ("sip:bob@biloxi.com", "sip:bob@biloxi.com;method=INVITE", 0);
	ASSERT_URI_EQ(
			"sip:bob@biloxi.com", "sip:bob@biloxi.com;maddr=239.255.255.1", 0);
	ASSERT_URI_EQ("sip:bob@biloxi.com;MADDR=239.255.255.1",
			"sip:bob@biloxi.com;maddr=239.255.255.1", 1);
}

/* RFC 3261 19.1.4: "URI header components are never ignored. Any present
 * header component MUST be present in both URIs and match" */
TEST(uri_headers_in_only_one_uri_never_match)
{
	ASSERT_URI_EQ("sip:alice@atlanta.com?subject=x",
			"sip:alice@atlanta.com?subject=x&priority=urgent", 0);
	ASSERT_URI_EQ(
			"sip:alice@atlanta.com?subject=x", "sip:alice@atlanta.com", 0);
	ASSERT_URI_EQ("sip:alice@atlanta.com?subject=x",
			"sip:alice@atlanta.com?subject=y", 0);
}

/* RFC 3261 19.1.4: "A SIP and SIPS URI are never equivalent." */
TEST(uri_sip_and_sips_are_never_equal)
{
	ASSERT_URI_EQ("sip:alice@atlanta.com", "sips:alice@atlanta.com", 0);
	ASSERT_URI_EQ("sips:alice@atlanta.com", "SIPS:alice@ATLANTA.com", 1);
}

/* RFC 3261 19.1.4: "For two URIs to be equal, the user, password, host,
 * and port components must match. A URI omitting the user component will
 * not match a URI that includes one. A URI omitting the password
 * component will not match a URI that includes one." */
TEST(uri_user_password_host_port_must_match)
{
	ASSERT_URI_EQ("sip:atlanta.com", "sip:alice@atlanta.com", 0);
	ASSERT_URI_EQ("sip:alice@atlanta.com", "sip:alice:secret@atlanta.com", 0);
	ASSERT_URI_EQ(
			"sip:alice:secret@atlanta.com", "sip:alice:Secret@atlanta.com", 0);
	ASSERT_URI_EQ(
			"sip:alice@atlanta.com:5060", "sip:alice@atlanta.com:5061", 0);
	ASSERT_URI_EQ(
			"sip:alice@[2001:db8::1]:5060", "sip:alice@[2001:DB8::1]:5060", 1);
	ASSERT_URI_EQ("sip:alice@[2001:db8::1]", "sip:alice@[2001:db8::2]", 0);
}

/* RFC 3261 19.1.4: "Characters other than those in the 'reserved' set
 * are equivalent to their '"%" HEX HEX' encoding." A reserved character
 * escaped is not the character itself. */
TEST(uri_escapes_of_unreserved_characters_equal_the_characters)
{
	ASSERT_URI_EQ(
			"sip:%61%6C%69%63%65@%61tlanta.com", "sip:alice@atlanta.com", 1);
	ASSERT_URI_EQ(
			"sip:alice@atlanta.com;x=%41", "sip:alice@atlanta.com;x=a", 1);
	ASSERT_URI_EQ("sip:a%3bb@atlanta.com", "sip:a%3Bb@atlanta.com", 1);
	ASSERT_URI_EQ("sip:a%3bb@atlanta.com", "sip:a;b@atlanta.com", 0);
}

/* aor_uri_equal: -1 when either URI cannot be parsed, so the caller falls
 * back to comparing bytes */
TEST(uri_unparsable_gives_minus_one)
{
	static const char *const bad[] = {
			"alice@atlanta.com", /* no scheme */
			"tel:+15551234567",	 /* not SIP */
			"sip:",				 /* no host */
			"sip:alice@",		 /* empty host */
			"sip:alice@;transport=udp",
			"sip:alice@[2001:db8::1", /* unterminated IPv6 bracket */
			"sip:alice@[2001:db8::1]x",
	};
	unsigned i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_URI_EQ(bad[i], "sip:alice@atlanta.com", -1);
		ASSERT_URI_EQ(bad[i], bad[i], -1);
	}
}

/* URI_MAX_PARAMS (32) parameters or headers parse; one more gives -1 */
TEST(uri_with_more_than_32_params_gives_minus_one)
{
	char a[1024], b[1024];
	int i, n;

	n = snprintf(a, sizeof(a), "sip:alice@atlanta.com");
	for(i = 0; i < 32; i++)
		n += snprintf(a + n, sizeof(a) - n, ";p%d=%d", i, i);
	memcpy(b, a, n + 1);
	ASSERT_URI_EQ(a, b, 1);
	snprintf(b + n, sizeof(b) - n, ";p32=32");
	ASSERT_URI_EQ(a, b, -1);

	n = snprintf(a, sizeof(a), "sip:alice@atlanta.com?h0=0");
	for(i = 1; i < 33; i++)
		n += snprintf(a + n, sizeof(a) - n, "&h%d=%d", i, i);
	ASSERT_URI_EQ(a, "sip:alice@atlanta.com", -1);
}

/* RFC 3261 19.1.1: "any given parameter-name MUST NOT appear more than
 * once": such a URI is not parsed (-1, the caller compares bytes), so that
 * equality stays reflexive (found by test/fuzz, fuzz_uri) */
TEST(uri_with_a_parameter_twice_gives_minus_one)
{
	ASSERT_URI_EQ("sip:a@h;x=1;x=2", "sip:a@h;x=1;x=2", -1);
	ASSERT_URI_EQ("sip:a@h;X=1;x", "sip:a@h", -1);
	ASSERT_URI_EQ("sip:a@h;%78=1;x=1", "sip:a@h;x=1", -1);
}

/* a header may appear twice; every one must have an equal one in the other
 * URI, so a URI equals itself (found by test/fuzz, fuzz_uri) */
TEST(uri_with_a_header_twice_equals_itself)
{
	ASSERT_URI_EQ("sip:a@h?X=1&x=2", "sip:a@h?X=1&x=2", 1);
	ASSERT_URI_EQ("sip:a@h?X=1&x=2", "sip:a@h?x=2&X=1", 1);
	ASSERT_URI_EQ("sip:a@h?x=1&x=2", "sip:a@h?x=1&x=3", 0);
}

/* the fast path of save() and lookup(): what it takes, it splits as
 * Kamailio's parse_uri would; what it cannot vouch for, it leaves to the
 * full parser */
TEST(uri_simple_takes_plain_uris_and_leaves_the_rest)
{
	static const struct
	{
		const char *uri, *user, *host;
	} yes[] = {
			{"sip:alice@example.com", "alice", "example.com"},
			{"SIPS:alice@Example.COM:5061", "alice", "Example.COM"},
			{"sip:+1-212.555(0)$&=,?/!~*'_@10.0.0.1:5060;transport=tcp;lr",
					"+1-212.555(0)$&=,?/!~*'_", "10.0.0.1"},
			{"sip:u@h;maddr=[::1];x=a:b", "u", "h"},
			{"sip:example.com:5060;lr", "", "example.com"},
			{"sips:10.0.0.1", "", "10.0.0.1"},
	};
	static const char *const no[] = {"sip:", "sip:@h", "tel:+123@h",
			"sip:a%40b@h", "sip:a;b@h", "sip:a b@h", "sip:a@", "sip:a@[::1]",
			"sip:a@h:", "sip:a@h:123456", "sip:a@h:70000", "sip:a@h;",
			"sip:a@h;;x", "sip:a@h?x=y", "sip:a@h;x=%41", "sip:a@h>",
			"sip:a@.h", "sip:a@h\x01", "sip:a\x7f@h", "sip:a@h "};
	unsigned int i;
	str u, h, s;

	for(i = 0; i < sizeof(yes) / sizeof(yes[0]) && !unit_failed; i++) {
		s = STR_C(yes[i].uri);
		if(aor_uri_simple(&s, &u, &h) != 1)
			UNIT_FAIL("%s not taken", yes[i].uri);
		ASSERT_STR_EQ(u, yes[i].user);
		ASSERT_STR_EQ(h, yes[i].host);
	}
	for(i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		s = STR_C(no[i]);
		if(aor_uri_simple(&s, &u, &h) != 0)
			UNIT_FAIL("%s taken", no[i]);
	}
	/* a NUL inside the counted string is in no class */
	s.s = "sip:a@h\0x";
	s.len = 9;
	if(aor_uri_simple(&s, &u, &h) != 0)
		UNIT_FAIL("a URI with a NUL in its host taken");
	s.s = "sip:a\0b@h";
	if(aor_uri_simple(&s, &u, &h) != 0)
		UNIT_FAIL("a URI with a NUL in its user taken");
}

/* save()'s NAT test compares an IPv4 Via host with the source address:
 * what the fast parser takes must be what the core's str2ip gives, the
 * rest goes to str2ip */
TEST(ipv4_parse_takes_dotted_quads_only)
{
	static const struct
	{
		const char *s;
		unsigned char b[4];
	} yes[] = {
			{"127.0.0.1", {127, 0, 0, 1}},
			{"0.0.0.0", {0, 0, 0, 0}},
			{"255.255.255.255", {255, 255, 255, 255}},
			{"10.200.30.4", {10, 200, 30, 4}},
	};
	static const char *const no[] = {"", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1",
			"1.2.3.256", "01.2.3.4", "1.2.3.04", "1..3.4", "1.2.3.", ".1.2.3",
			"1.2.3.4 ", "1.2.3.4:5060", "a.b.c.d", "1000.2.3.4", "1.2.3.-4",
			"example.com", "::1", "[127.0.0.1]"};
	unsigned char b[4];
	unsigned int i;
	str s;

	for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		s = STR_C(yes[i].s);
		if(aor_ipv4_parse(&s, b) != 1 || memcmp(b, yes[i].b, 4) != 0)
			UNIT_FAIL("%s not parsed to its bytes", yes[i].s);
	}
	for(i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		s = STR_C(no[i]);
		if(aor_ipv4_parse(&s, b) != 0)
			UNIT_FAIL("%s taken", no[i]);
	}
	/* the counted length is the end, not a NUL */
	s.s = "1.2.3.45";
	s.len = 7;
	if(aor_ipv4_parse(&s, b) != 1 || b[3] != 4)
		UNIT_FAIL("a counted string read past its length");
}

/* parse_uri's reading of a URI, as aor_uri_split gives it (each case also
 * checked against the real parse_uri by test/fuzz/fuzz_aorkey.c, whose
 * seeds hold some of them) */
TEST(uri_split_gives_the_user_and_host_of_parse_uri)
{
	static const struct
	{
		const char *uri, *user, *host;
	} yes[] = {
			{"sip:alice@example.com", "alice", "example.com"},
			{"SIPS:alice:secret@h:5061;transport=tls?X=y", "alice", "h"},
			{"sip:h:5060;lr", "", "h"},
			{"sip:[2001:db8::1]:5060", "", "[2001:db8::1]"},
			{"sip:a%41@[::1];x", "a%41", "[::1]"},
			{"tel:+1-212-555-0100;phone-context=example.com", "+1-212-555-0100",
					""},
			{"tel:a@b", "b", ""}, /* the host is the number */
			{"urn:service:sos", "service", "sos"},
			{"sip:h;a@b", "h;a", "b"},	   /* an '@' in the parameters */
			{"sip:a?b;c@d", "a?b;c", "d"}, /* ... and in the headers */
			{"sip:h;a:b@c", "h;a", "c"},   /* ... after a password */
			{"sip:+1;isub=2@h;user=phone", "+1", "h"},
			{"sip:+1;isub=2@h;USER=phone", "+1", "h"},
			{"sip:+1;isub=2@h;user=Phone", "+1;isub=2", "h"},
			{"sip:a@h:65535", "a", "h"},
			{"sip\032a@h", "a", "h"}, /* parse_uri ORs 0x20 into ':' */
			{"sip:a@h;maddr=x", "a", "h"},
	};
	static const char *const no[] = {"", "sip:", "sips:", "sipx:a@h",
			"http://a@h", "sip:@h", "sip::a@h", "sip:a@", "sip:a@[::1",
			"sip:a@-h", "sip:a@h_x", "sip:a@h&", "sip:a@h:65536",
			"sip:a@h:000001", "sip:a:99999@h", "sip:a:b;c@h", "sip:a@h?x;y",
			"sip:;x@h;user=phone", "sip:a@h;ma", "sip:a@h;MADDR="};
	unsigned int i;
	str u, h, s;

	for(i = 0; i < sizeof(yes) / sizeof(yes[0]) && !unit_failed; i++) {
		s = STR_C(yes[i].uri);
		if(aor_uri_split(&s, &u, &h) != 0)
			UNIT_FAIL("%s not split", yes[i].uri);
		ASSERT_STR_EQ(u, yes[i].user);
		ASSERT_STR_EQ(h, yes[i].host);
	}
	for(i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		s = STR_C(no[i]);
		if(aor_uri_split(&s, &u, &h) != -1)
			UNIT_FAIL("%s split", no[i]);
	}
}

/* the key of uri with options ud (use_domain) and cs (case_sensitive),
 * into a buffer of exactly the URI's length; want NULL: AOR_E_BAD_AOR */
static void key_is(const char *uri, int ud, int cs, const char *want)
{
	aor_key_opts_t o = {ud, cs, {NULL, 0}};
	str s = STR_C(uri), k;
	char *buf = malloc(s.len + 1);
	int r;

	ASSERT(buf != NULL);
	r = aor_key_build(&s, &o, buf, s.len, &k);
	if(want == NULL && r != AOR_E_BAD_AOR)
		fprintf(stderr, "key of %s: %d (%.*s), want AOR_E_BAD_AOR\n", uri, r,
				r == 0 ? k.len : 0, buf);
	else if(want != NULL
			&& (r != 0 || k.len != (int)strlen(want)
					|| memcmp(k.s, want, k.len) != 0))
		fprintf(stderr,
				"key of %s (use_domain %d, case_sensitive %d): "
				"%d \"%.*s\", want \"%s\"\n",
				uri, ud, cs, r, r == 0 ? k.len : 0, buf, want);
	else
		r = -1;
	free(buf);
	if(r != -1)
		unit_failed = 1;
}

/* RFC 3261 10.3 step 5 and 19.1.4: escapes of printable characters are the
 * characters; '%' and the rest stay escaped, in upper-case hex */
TEST(key_unescapes_the_user_but_keeps_percent_and_nul_escaped)
{
	key_is("sip:%41lice@example.com", 1, 1, "Alice@example.com");
	key_is("sip:a%25b@example.com", 1, 1, "a%25b@example.com");
	key_is("sip:a%00b@example.com", 1, 1, "a%00b@example.com");
	key_is("sip:a%0ab%c3%a9@example.com", 1, 1, "a%0Ab%C3%A9@example.com");
	key_is("sip:a%20b@example.com", 1, 1, "a%20b@example.com");
	key_is("sip:a%3bb@example.com", 1, 1, "a;b@example.com");
}

TEST(key_folds_the_user_only_without_case_sensitive)
{
	key_is("sip:Alice@example.com", 1, 1, "Alice@example.com");
	key_is("sip:Alice@example.com", 1, 0, "alice@example.com");
	key_is("sip:%41%0A@example.com", 1, 0, "a%0a@example.com");
}

TEST(key_host_is_lower_case_and_only_with_use_domain)
{
	key_is("sip:Bob@EXAMPLE.Com:5060;transport=tcp", 1, 1, "Bob@example.com");
	key_is("sip:Bob@EXAMPLE.Com", 0, 1, "Bob");
	key_is("sip:Bob@EXAMPLE.Com", 0, 0, "bob");
	key_is("sip:alice@[2001:DB8::1]:5060", 1, 0, "alice@[2001:db8::1]");
}

TEST(key_of_tel_sips_password_and_user_phone_uris)
{
	key_is("tel:+1-212-555-0100;phone-context=example.com", 1, 0,
			"+1-212-555-0100");
	key_is("sips:Alice@Example.com;transport=tls", 1, 0, "alice@example.com");
	key_is("sip:alice:secret@example.com", 1, 0, "alice@example.com");
	key_is("sip:+1234;isub=5@example.com;user=phone", 1, 0,
			"+1234@example.com");
	key_is("sip:alice@example.com?Subject=hi", 1, 0, "alice@example.com");
}

TEST(key_without_a_user_is_an_error)
{
	key_is("sip:example.com", 1, 0, NULL);
	key_is("sip:example.com:5060;lr", 1, 0, NULL);
	key_is("sip:@example.com", 1, 0, NULL);
	key_is("sip:", 1, 0, NULL);
	key_is("", 1, 0, NULL);
	key_is("mailto:alice@example.com", 1, 0, NULL);
}

TEST(key_with_a_bad_escape_is_an_error)
{
	key_is("sip:a%4@example.com", 1, 0, NULL);
	key_is("sip:a%@example.com", 1, 0, NULL);
	key_is("sip:a%zz@example.com", 1, 0, NULL);
	key_is("sip:a%4", 0, 0, NULL);
}

/* uri.h: raw controls and space are never in a key (RFC 3261 25.1) */
TEST(key_with_a_raw_control_byte_is_an_error)
{
	aor_key_opts_t o = {1, 0, {NULL, 0}};
	str s, k;
	char buf[64];

	key_is("sip:a b@example.com", 1, 0, NULL);
	key_is("tel:+1\x7f", 1, 0, NULL);
	key_is("sip:a@[::1\x01]", 1, 0, NULL);
	key_is("sip:a@[::1\x01]", 0, 0, "a"); /* the host is not in the key */
	s.s = "sip:a\0b@example.com";
	s.len = 19;
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), AOR_E_BAD_AOR);
}

TEST(key_of_a_uri_longer_than_1024_bytes_is_an_error)
{
	static char uri[AOR_KEY_URI_MAX + 2];
	aor_key_opts_t o = {1, 0, {NULL, 0}};
	static char buf[AOR_KEY_URI_MAX + 2];
	str s, k;

	memcpy(uri, "sip:", 4);
	memset(uri + 4, 'a', sizeof(uri) - 4);
	memcpy(uri + AOR_KEY_URI_MAX - 2, "@h", 2);
	s.s = uri;
	s.len = AOR_KEY_URI_MAX;
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), 0);
	ASSERT_EQ(k.len, AOR_KEY_URI_MAX - 4);
	memcpy(uri + AOR_KEY_URI_MAX - 2, "aa@h", 4);
	s.len = AOR_KEY_URI_MAX + 1;
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), AOR_E_BAD_AOR);
}

TEST(key_that_does_not_fit_the_buffer_is_too_long)
{
	aor_key_opts_t o = {1, 0, {NULL, 0}};
	str s = STR_C("sip:alice@example.com;lr"), k;
	char buf[17];

	ASSERT_EQ(aor_key_build(&s, &o, buf, 17, &k), 0);
	ASSERT_STR_EQ(k, "alice@example.com");
	ASSERT_EQ(aor_key_build(&s, &o, buf, 16, &k), AOR_E_TOO_LONG);
	ASSERT_EQ(aor_key_build(&s, &o, buf, 4, &k), AOR_E_TOO_LONG);
	o.use_domain = 0;
	ASSERT_EQ(aor_key_build(&s, &o, buf, 5, &k), 0);
	ASSERT_STR_EQ(k, "alice");
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}

/* uri.h: realm_prefix leaves the host's start out of a use_domain key, as
 * stock extract_aor: byte for byte, only when the host is longer */
TEST(key_without_realm_prefix)
{
	aor_key_opts_t o = {1, 0, STR_STATIC_INIT("sip.")};
	str s, k;
	char buf[64];

	s.s = "sip:Alice@sip.example.com";
	s.len = strlen(s.s);
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), 0);
	ASSERT(k.len == 17 && memcmp(k.s, "alice@example.com", 17) == 0);
	s.s = "sip:alice@SIP.example.com"; /* compared before folding */
	s.len = strlen(s.s);
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), 0);
	ASSERT(k.len == 21 && memcmp(k.s, "alice@sip.example.com", 21) == 0);
	s.s = "sip:alice@sip."; /* the host no longer than the prefix */
	s.len = strlen(s.s);
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), 0);
	ASSERT(k.len == 10 && memcmp(k.s, "alice@sip.", 10) == 0);
	o.use_domain = 0;
	s.s = "sip:alice@sip.example.com";
	s.len = strlen(s.s);
	ASSERT_EQ(aor_key_build(&s, &o, buf, sizeof(buf), &k), 0);
	ASSERT(k.len == 5 && memcmp(k.s, "alice", 5) == 0);
}
