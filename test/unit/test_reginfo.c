/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of reginfo.c: RFC 3680 render -> parse round trip of every
 * binding field (XML escaping included), what the document says in RFC
 * 3680 terms, and bad documents (truncated, foreign namespace, DTD and
 * entities, huge values, bad numbers) that must fail without calling back
 * or leaking (AddressSanitizer checks the leaks).
 */

#include <stdint.h>

#include <libxml/parser.h>

#include "unit.h"
#include "unit_binding.h"
#include "sys.h"
#include "errors.h"
#include "binding.h"
#include "reginfo.h"

#define KEY "alice@example.com"
#define MAXB 8

/* the bindings a parse handed out, rebuilt as bindings */
struct got
{
	aor_binding_t *b[MAXB];
	int n;
	int fail_at; /* return AOR_E_NOMEM at this call, -1 never */
};

static int collect(const aor_binding_in_t *in, void *arg)
{
	struct got *g = arg;

	if(g->n == g->fail_at)
		return AOR_E_NOMEM;
	if(g->n == MAXB)
		return AOR_E_TOO_MANY;
	g->b[g->n] = aor_binding_new(in);
	if(g->b[g->n] == NULL)
		return AOR_E_NOMEM;
	g->n++;
	return 0;
}

static void got_init(struct got *g)
{
	memset(g, 0, sizeof(*g));
	g->fail_at = -1;
}

static void got_free(struct got *g)
{
	int i;

	for(i = 0; i < g->n; i++)
		free(g->b[i]);
	g->n = 0;
}

static int parse_str(const char *doc, struct got *g)
{
	return aor_reginfo_parse(doc, (int)strlen(doc), collect, g);
}

/* a binding with every field set, the strings full of XML's specials */
static aor_binding_t *full_binding(void)
{
	aor_binding_in_t in;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(KEY);
	in.f[AOR_F_URI] = STR_C("sip:alice@192.0.2.10:5070;transport=tcp;"
							"x=\"<a&b>\";y='c'");
	in.f[AOR_F_RECEIVED] = STR_C("sip:198.51.100.7:40000;x=<&>");
	in.f[AOR_F_PATH] = STR_C("<sip:edge.example.com;lr;a=\"'&'\">,"
							 "<sip:core.example.com;lr>");
	in.f[AOR_F_UA] = STR_C("Phone \"<&>\" 'quoted' 1.0 \xc3\xa9t\xc3\xa9\t"
						   "tab\r\nline");
	in.f[AOR_F_CALLID] = STR_C("a84b<4c76>&e66710\"'@pc33.example.com");
	in.f[AOR_F_INSTANCE] =
			STR_C("\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"");
	in.f[AOR_F_SOCK] = STR_C("tcp:192.0.2.1:5060");
	in.id = 0x1122334455667788ull;
	in.expires = aor_test_now + 3600;
	in.modified = aor_test_now - 10;
	in.cseq = 4294967295u;
	in.cflags = 0x80000001u;
	in.methods = 0x0000002fu;
	in.reg_id = 2147483647;
	in.q = 500;
	return aor_binding_new(&in);
}

/* a binding with nothing optional: no q, permanent, empty strings */
static aor_binding_t *bare_binding(void)
{
	aor_binding_in_t in;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(KEY);
	in.f[AOR_F_URI] = STR_C("sip:alice@192.0.2.11");
	in.id = 7;
	in.expires = 0;
	in.modified = aor_test_now;
	in.methods = 0xffffffffu;
	in.q = AOR_Q_UNSPEC;
	return aor_binding_new(&in);
}

/* b and its parsed copy p hold the same binding (hash and sock aside) */
static void assert_same(const aor_binding_t *b, const aor_binding_t *p)
{
	assert_same_binding(b, p);
	ASSERT_OK_SO_FAR();
	ASSERT_EQ(p->id, b->id);
	ASSERT_EQ(p->hash, 0);
	ASSERT_PTR_EQ(p->sock, NULL);
}

static int render2(char **doc, int *len)
{
	aor_binding_t *v[2];
	str key = STR_C(KEY);
	int r;

	v[0] = full_binding();
	v[1] = bare_binding();
	if(v[0] == NULL || v[1] == NULL)
		r = AOR_E_NOMEM;
	else
		r = aor_reginfo_render(&key, v, 2, 42, aor_test_now, doc, len);
	free(v[0]);
	free(v[1]);
	return r;
}

TEST(reginfo_round_trip_keeps_every_field)
{
	aor_binding_t *v[2];
	str key = STR_C(KEY);
	struct got g;
	char *doc;
	int len, r;

	got_init(&g);
	v[0] = full_binding();
	v[1] = bare_binding();
	ASSERT(v[0] != NULL && v[1] != NULL);
	r = aor_reginfo_render(&key, v, 2, 42, aor_test_now, &doc, &len);
	ASSERT_EQ(r, 0);
	ASSERT_EQ((int)strlen(doc), len);
	r = aor_reginfo_parse(doc, len, collect, &g);
	aor_reginfo_free(doc);
	ASSERT_EQ(r, 2);
	ASSERT_EQ(g.n, 2);
	assert_same(v[0], g.b[0]);
	if(!unit_failed)
		assert_same(v[1], g.b[1]);
	got_free(&g);
	free(v[0]);
	free(v[1]);
}

TEST(reginfo_render_says_rfc3680_terms)
{
	char *doc;
	int len;

	ASSERT_EQ(render2(&doc, &len), 0);
#define HAS(s)                                   \
	do {                                         \
		if(strstr(doc, (s)) == NULL) {           \
			fprintf(stderr, "%s\n", doc);        \
			aor_reginfo_free(doc);               \
			UNIT_FAIL("document lacks %s", (s)); \
		}                                        \
	} while(0)
	HAS("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
	HAS("<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\"");
	HAS("version=\"42\" state=\"full\"");
	HAS("<registration aor=\"sip:alice@example.com\" "
		"id=\"alice@example.com\" state=\"active\">");
	HAS("<contact state=\"active\" event=\"registered\" expires=\"3600\" "
		"id=\"aor-1122334455667788\" q=\"0.5\" "
		"callid=\"a84b&lt;4c76&gt;&amp;e66710&quot;'@pc33.example.com\" "
		"cseq=\"4294967295\">");
	HAS("<uri>sip:alice@192.0.2.10:5070;transport=tcp;"
		"x=&quot;&lt;a&amp;b&gt;&quot;;y='c'</uri>");
	HAS("<unknown-param name=\"+sip.instance\">&quot;&lt;urn:uuid:");
	HAS("<unknown-param name=\"reg-id\">2147483647</unknown-param>");
	/* the permanent binding: no expires, no q */
	HAS("<contact state=\"active\" event=\"registered\" "
		"id=\"aor-0000000000000007\" callid=\"\" cseq=\"0\">");
#undef HAS
	aor_reginfo_free(doc);
}

TEST(reginfo_render_of_no_binding_is_state_init)
{
	str key = STR_C("bob");
	struct got g;
	char *doc;
	int len;

	got_init(&g);
	ASSERT_EQ(
			aor_reginfo_render(&key, NULL, 0, 0, aor_test_now, &doc, &len), 0);
	if(strstr(doc, "<registration aor=\"sip:bob\" id=\"bob\" state=\"init\"")
			== NULL) {
		aor_reginfo_free(doc);
		UNIT_FAIL("no init registration");
	}
	ASSERT_EQ(aor_reginfo_parse(doc, len, collect, &g), 0);
	aor_reginfo_free(doc);
	ASSERT_EQ(g.n, 0);
}

TEST(reginfo_render_shows_what_xml_cannot_carry_as_question_marks)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	str key = STR_C(KEY), ua = STR_NULL;
	static const char ua_in[] = "x\0y\x1b\x80\xc0\xaf\xed\xa0\x80\xef\xbf\xbez"
								"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	struct got g;
	char *doc;
	int len, r, shown, hex, ok;

	got_init(&g);
	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = key;
	in.f[AOR_F_URI] = STR_C("sip:a@b");
	/* NUL, ESC, a lone continuation byte, an overlong '/', a surrogate,
	 * U+FFFE; then valid 2, 3 and 4 byte characters */
	in.f[AOR_F_UA] = (str){(char *)ua_in, sizeof(ua_in) - 1};
	in.q = AOR_Q_UNSPEC;
	b = aor_binding_new(&in);
	ASSERT(b != NULL);
	r = aor_reginfo_render(&key, &b, 1, 0, aor_test_now, &doc, &len);
	free(b);
	ASSERT_EQ(r, 0);
	shown = strstr(doc, "<aor:user-agent>x?y??????????z\xc3\xa9\xe2\x82\xac"
						"\xf0\x9f\x98\x80</aor:user-agent>")
			!= NULL;
	hex = strstr(doc, "<aor:raw field=\"user-agent\">7800791b80c0afeda080"
					  "efbfbe7ac3a9e282acf09f9880</aor:raw>")
		  != NULL;
	r = aor_reginfo_parse(doc, len, collect, &g);
	if(!shown || !hex)
		fprintf(stderr, "%s\n", doc);
	aor_reginfo_free(doc);
	if(r == 1)
		ua = aor_binding_get(g.b[0], AOR_F_UA);
	/* the reader gets the exact bytes back */
	ok = r == 1 && ua.len == (int)sizeof(ua_in) - 1
		 && memcmp(ua.s, ua_in, ua.len) == 0;
	got_free(&g);
	ASSERT(shown);
	ASSERT(hex);
	ASSERT_EQ(r, 1);
	ASSERT(ok);
}

TEST(reginfo_round_trip_is_exact_for_every_byte_in_every_field)
{
	char bytes[AOR_F_COUNT][300];
	aor_binding_in_t in;
	aor_binding_t *b;
	struct got g;
	char *doc;
	int len, r, f, i;

	/* each field: its name's first letter, then all 256 byte values, the
	 * specials of XML among them, then a plain tail */
	memset(&in, 0, sizeof(in));
	for(f = 0; f < AOR_F_COUNT; f++) {
		bytes[f][0] = (char)('a' + f);
		for(i = 0; i < 256; i++)
			bytes[f][1 + i] = (char)i;
		memcpy(bytes[f] + 257, "<&>\"'end", 8);
		in.f[f] = (str){bytes[f], 265};
	}
	in.id = 99;
	in.expires = aor_test_now + 60;
	in.modified = aor_test_now;
	in.methods = 0xffffffffu;
	in.q = 1000;
	b = aor_binding_new(&in);
	ASSERT(b != NULL);
	got_init(&g);
	r = aor_reginfo_render(&in.f[AOR_F_AOR], &b, 1, 1, aor_test_now, &doc,
			&len);
	if(r == 0) {
		r = aor_reginfo_parse(doc, len, collect, &g);
		aor_reginfo_free(doc);
	}
	if(r == 1 && g.n == 1)
		assert_same(b, g.b[0]);
	got_free(&g);
	free(b);
	ASSERT_EQ(r, 1);
}

/* libxml2 shares a short text such as "01" between elements through its
 * dictionary; decoding one <aor:raw> in place must not change another
 * (found by test/fuzz, fuzz_reginfo: the second field came out as 0xA1,
 * or the parse failed after its first callback) */
TEST(reginfo_round_trip_of_one_control_byte_in_several_fields)
{
	aor_binding_in_t in;
	aor_binding_t *b[2];
	str key = STR_C(KEY);
	struct got g;
	char *doc;
	int len, r, i;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(KEY);
	in.f[AOR_F_URI] = STR_C("sip:alice@192.0.2.11");
	in.f[AOR_F_UA] = STR_C("\x01");
	in.f[AOR_F_PATH] = STR_C("\x01");
	in.f[AOR_F_RECEIVED] = STR_C("\x01");
	in.methods = 0xffffffffu;
	in.q = AOR_Q_UNSPEC;
	b[0] = aor_binding_new(&in);
	in.f[AOR_F_URI] = STR_C("sip:alice@192.0.2.12");
	b[1] = aor_binding_new(&in);
	ASSERT(b[0] != NULL && b[1] != NULL);
	got_init(&g);
	r = aor_reginfo_render(&key, b, 2, 1, aor_test_now, &doc, &len);
	if(r == 0) {
		r = aor_reginfo_parse(doc, len, collect, &g);
		aor_reginfo_free(doc);
	}
	for(i = 0; r == 2 && i < 2 && !unit_failed; i++)
		assert_same(b[i], g.b[i]);
	got_free(&g);
	free(b[0]);
	free(b[1]);
	ASSERT_EQ(r, 2);
}

TEST(reginfo_bad_raw_elements_are_rejected)
{
	static const char *const bad[] = {
			"<aor:raw field=\"uri\">7</aor:raw>",	/* odd length */
			"<aor:raw field=\"uri\">zz</aor:raw>",	/* not hex */
			"<aor:raw field=\"nope\">41</aor:raw>", /* unknown field */
			"<aor:raw field=\"aor\">41</aor:raw>",	/* the key, in a contact */
			"<aor:raw>41</aor:raw>",				/* no field */
	};
	char doc[1024];
	struct got g;
	unsigned int i;
	int r;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc),
				"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
				"xmlns:aor=\"" AOR_REGINFO_EXT_NS "\" version=\"0\" "
				"state=\"full\"><registration aor=\"sip:a\" id=\"a\" "
				"state=\"active\"><contact state=\"active\" id=\"1\">"
				"<uri>sip:a@b</uri>%s</contact></registration></reginfo>",
				bad[i]);
		got_init(&g);
		r = parse_str(doc, &g);
		got_free(&g);
		if(r != AOR_E_BAD_CONTACT)
			UNIT_FAIL("case %u: %d", i, r);
	}
}

/* the example of RFC 3680 section 6, trimmed: another producer's ids,
 * relative expiry, a terminated contact and an extension element */
static const char rfc_example[] =
		"<?xml version=\"1.0\"?>\n"
		"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\"\n"
		"    xmlns:ex=\"urn:example:other\" version=\"1\" state=\"partial\">\n"
		"  <registration aor=\"sip:user@example.com\" id=\"a7\"\n"
		"      state=\"active\">\n"
		"    <contact id=\"76\" state=\"active\" event=\"registered\"\n"
		"        duration-registered=\"7322\" expires=\"900\" q=\"0.8\">\n"
		"      <uri>sip:user@pc887.example.com</uri>\n"
		"      <display-name xml:lang=\"en\">User</display-name>\n"
		"      <unknown-param name=\"video\"/>\n"
		"      <ex:thing>ignored</ex:thing>\n"
		"    </contact>\n"
		"    <contact id=\"77\" state=\"terminated\" event=\"expired\">\n"
		"      <uri>sip:user@university.edu</uri>\n"
		"    </contact>\n"
		"  </registration>\n"
		"  <ex:other/>\n"
		"</reginfo>\n";

TEST(reginfo_parse_reads_another_producers_document)
{
	struct got g;
	aor_binding_t *b;

	got_init(&g);
	ASSERT_EQ(parse_str(rfc_example, &g), 1);
	b = g.b[0];
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_AOR), "user@example.com");
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_URI), "sip:user@pc887.example.com");
	ASSERT_EQ(b->id, 0);
	ASSERT_EQ(b->q, 800);
	ASSERT_EQ(b->expires, aor_test_now + 900);
	ASSERT_EQ(b->modified, aor_test_now);
	ASSERT_EQ(b->methods, 0xffffffffu);
	ASSERT_EQ(b->cseq, 0);
	ASSERT_EQ(aor_binding_get(b, AOR_F_CALLID).len, 0);
	got_free(&g);
}

TEST(reginfo_truncated_document_fails_before_any_callback)
{
	struct got g;
	char *doc;
	int len, cut, r;

	ASSERT_EQ(render2(&doc, &len), 0);
	/* every prefix that cuts into the closing tag of the root */
	for(cut = 0; cut < len - 1; cut++) {
		got_init(&g);
		r = aor_reginfo_parse(doc, cut, collect, &g);
		if(r >= 0 || g.n != 0) {
			got_free(&g);
			aor_reginfo_free(doc);
			UNIT_FAIL("prefix of %d bytes: %d, %d callbacks", cut, r, g.n);
		}
	}
	got_init(&g);
	r = aor_reginfo_parse(doc, len - 1, collect, &g); /* the last \n */
	got_free(&g);
	aor_reginfo_free(doc);
	ASSERT_EQ(r, 2);
}

/* DOC(contact): one contact in one registration of a reginfo root */
#define ROOT_OPEN                                        \
	"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" " \
	"version=\"0\" state=\"full\">"
#define REG_OPEN "<registration aor=\"sip:a@b\" id=\"x\" state=\"active\">"
#define DOC(contact) ROOT_OPEN REG_OPEN contact "</registration></reginfo>"
#define CONTACT(attrs, body)                                                  \
	"<contact state=\"active\" event=\"registered\" id=\"1\" " attrs ">" body \
	"</contact>"
#define URI "<uri>sip:a@192.0.2.1</uri>"

static void assert_rejected(const char *doc, int err)
{
	struct got g;
	int r;

	got_init(&g);
	r = parse_str(doc, &g);
	got_free(&g);
	if(r != err || g.n != 0)
		UNIT_FAIL("%s\nparsed to %d (%d callbacks), expected %d", doc, r, g.n,
				err);
}

TEST(reginfo_parse_accepts_the_minimal_contact)
{
	struct got g;

	got_init(&g);
	ASSERT_EQ(parse_str(DOC(CONTACT("", URI)), &g), 1);
	got_free(&g);
}

TEST(reginfo_absurd_relative_expiry_is_clamped)
{
	struct got g;

	got_init(&g);
	ASSERT_EQ(
			parse_str(DOC(CONTACT("expires=\"9223372036854775807\"", URI)), &g),
			1);
	ASSERT_GT(g.b[0]->expires, aor_test_now);
	got_free(&g);
}

TEST(reginfo_foreign_namespace_is_rejected)
{
	/* the root in no namespace, in another one, under another name */
	assert_rejected("<reginfo version=\"0\" state=\"full\"/>", AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected("<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo-x\" "
					"version=\"0\" state=\"full\"/>",
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected("<r:reginfo xmlns:r=\"urn:example\" xmlns="
					"\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" "
					"state=\"full\"/>",
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected("<pidf xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
					"version=\"0\" state=\"full\"/>",
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	/* a name RFC 3680 does not define, in its namespace */
	assert_rejected(ROOT_OPEN "<regs/></reginfo>", AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected(
			DOC(CONTACT("", URI "<expires>1</expires>")), AOR_E_BAD_CONTACT);
	ASSERT_OK_SO_FAR();
	/* <uri> of another namespace is no uri */
	assert_rejected(DOC(CONTACT("", "<uri xmlns=\"urn:x\">sip:a@b</uri>")),
			AOR_E_BAD_CONTACT);
}

TEST(reginfo_root_attributes_are_required)
{
	assert_rejected("<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
					"state=\"full\"/>",
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected("<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
					"version=\"0\" state=\"whole\"/>",
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected("<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
					"version=\"-1\" state=\"full\"/>",
			AOR_E_INTERNAL);
}

TEST(reginfo_dtd_and_entities_are_rejected)
{
	struct got g;

	assert_rejected("<?xml version=\"1.0\"?>\n"
					"<!DOCTYPE reginfo [<!ENTITY x \"sip:a@b\">]>\n" DOC(
							CONTACT("", "<uri>&x;</uri>")),
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected(
			"<!DOCTYPE reginfo [<!ENTITY x SYSTEM "
			"\"file:///etc/passwd\">]>\n" DOC(CONTACT("", "<uri>&x;</uri>")),
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	assert_rejected("<!DOCTYPE reginfo SYSTEM \"http://127.0.0.1:9/r.dtd\">"
					"\n" DOC(CONTACT("", URI)),
			AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	/* an undeclared entity is not well-formed */
	assert_rejected(DOC(CONTACT("", "<uri>&x;</uri>")), AOR_E_INTERNAL);
	ASSERT_OK_SO_FAR();
	/* character references and the predefined entities are text */
	got_init(&g);
	ASSERT_EQ(parse_str(DOC(CONTACT("callid=\"&#65;&lt;&amp;\"",
								"<uri>sip:a@&#x62;</uri>")),
					  &g),
			1);
	ASSERT_STR_EQ(aor_binding_get(g.b[0], AOR_F_CALLID), "A<&");
	ASSERT_STR_EQ(aor_binding_get(g.b[0], AOR_F_URI), "sip:a@b");
	got_free(&g);
}

TEST(reginfo_huge_values_are_rejected)
{
	static const char pre[] = ROOT_OPEN REG_OPEN
			"<contact state=\"active\" event=\"registered\" id=\"1\" "
			"callid=\"";
	static const char post[] = "\">" URI "</contact></registration>"
							   "</reginfo>";
	size_t sizes[] = {70000, 11u * 1024 * 1024};
	unsigned int i;
	char *doc;
	size_t n;
	int r;

	for(i = 0; i < 2; i++) {
		n = sizes[i];
		doc = malloc(sizeof(pre) + n + sizeof(post));
		ASSERT(doc != NULL);
		memcpy(doc, pre, sizeof(pre) - 1);
		memset(doc + sizeof(pre) - 1, 'c', n);
		memcpy(doc + sizeof(pre) - 1 + n, post, sizeof(post));
		r = aor_reginfo_parse(doc, (int)strlen(doc), NULL, NULL);
		free(doc);
		/* beyond a binding; beyond libxml2's 10 MB limit on one value */
		ASSERT_EQ(r, i == 0 ? AOR_E_TOO_LONG : AOR_E_INTERNAL);
	}
}

TEST(reginfo_bad_values_are_rejected)
{
	static const struct
	{
		const char *doc;
		int err;
	} bad[] = {
			{DOC(CONTACT("q=\"2\"", URI)), AOR_E_BAD_Q},
			{DOC(CONTACT("q=\"1.5\"", URI)), AOR_E_BAD_Q},
			{DOC(CONTACT("q=\"0.5x\"", URI)), AOR_E_BAD_Q},
			{DOC(CONTACT("q=\"0.1234\"", URI)), AOR_E_BAD_Q},
			{DOC(CONTACT("q=\"\"", URI)), AOR_E_BAD_Q},
			{DOC(CONTACT("expires=\"-1\"", URI)), AOR_E_BAD_EXPIRES},
			{DOC(CONTACT("expires=\"1e3\"", URI)), AOR_E_BAD_EXPIRES},
			{DOC(CONTACT("expires=\"99999999999999999999\"", URI)),
					AOR_E_BAD_EXPIRES},
			{DOC(CONTACT("cseq=\"4294967296\"", URI)), AOR_E_BAD_CSEQ},
			{DOC(CONTACT("cseq=\" 1\"", URI)), AOR_E_BAD_CSEQ},
			{DOC(CONTACT("", "")), AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", "<uri></uri>")), AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", URI URI)), AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", "<uri>sip:<b/>a@b</uri>")), AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", "<uri>sip:<!-- c -->a@b</uri>")),
					AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", URI "<unknown-param>1</unknown-param>")),
					AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", URI "<unknown-param name=\"reg-id\">0"
								 "</unknown-param>")),
					AOR_E_BAD_CONTACT},
			{DOC(CONTACT("", URI "<a:flags xmlns:a=\"" AOR_REGINFO_EXT_NS
								 "\">x</a:flags>")),
					AOR_E_BAD_CONTACT},
			{DOC("<contact event=\"registered\" id=\"1\">" URI "</contact>"),
					AOR_E_BAD_CONTACT},
			{DOC("<contact state=\"on\" id=\"1\">" URI "</contact>"),
					AOR_E_BAD_CONTACT},
			{ROOT_OPEN "<registration aor=\"tel:+15551234\" id=\"x\" "
					   "state=\"active\"/></reginfo>",
					AOR_E_BAD_AOR},
			{ROOT_OPEN "<registration aor=\"sip:\" id=\"x\" "
					   "state=\"active\"/></reginfo>",
					AOR_E_BAD_AOR},
			{ROOT_OPEN "<registration id=\"x\" state=\"active\"/></reginfo>",
					AOR_E_BAD_AOR},
			{"", AOR_E_INTERNAL},
			{"not xml", AOR_E_INTERNAL},
			{ROOT_OPEN "</registration></reginfo>", AOR_E_INTERNAL},
	};
	unsigned int i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_rejected(bad[i].doc, bad[i].err);
		ASSERT_OK_SO_FAR();
	}
	ASSERT_EQ(aor_reginfo_parse(NULL, 10, collect, NULL), AOR_E_INTERNAL);
}

TEST(reginfo_a_bad_contact_anywhere_means_no_callback)
{
	/* the second registration is bad: the first is not handed out */
	assert_rejected(ROOT_OPEN REG_OPEN CONTACT(
							"", URI) "</registration>"
									 "<registration aor=\"sip:c@d\" id=\"y\" "
									 "state=\"active\">" CONTACT("q=\"7\"",
											 URI) "</registration></reginfo>",
			AOR_E_BAD_Q);
}

TEST(reginfo_callback_error_stops_the_parse)
{
	struct got g;
	char *doc;
	int len, r;

	ASSERT_EQ(render2(&doc, &len), 0);
	got_init(&g);
	g.fail_at = 1;
	r = aor_reginfo_parse(doc, len, collect, &g);
	aor_reginfo_free(doc);
	ASSERT_EQ(g.n, 1);
	got_free(&g);
	ASSERT_EQ(r, AOR_E_NOMEM);
}

/* libxml2 keeps short strings in a dictionary shared between nodes: the
 * hex "80" of one contact's <aor:raw> is the same string as cseq="80" of
 * another, so decoding must never write into the tree */
TEST(reginfo_raw_decoding_leaves_shared_strings_alone)
{
	aor_binding_in_t in;
	aor_binding_t *b[2];
	str key = STR_C(KEY);
	struct got g;
	char *doc;
	int len, r, i;

	for(i = 0; i < 2; i++) {
		memset(&in, 0, sizeof(in));
		in.f[AOR_F_AOR] = key;
		in.f[AOR_F_URI] = i ? STR_C("sip:a@h2") : STR_C("sip:a@h1");
		in.f[AOR_F_UA] = STR_C("\x80");
		in.f[AOR_F_CALLID] = STR_C("80");
		in.cseq = i ? 80 : 5;
		in.id = 80 + i;
		in.q = AOR_Q_UNSPEC;
		in.methods = 0xffffffffu;
		b[i] = aor_binding_new(&in);
		ASSERT(b[i] != NULL);
	}
	r = aor_reginfo_render(&key, b, 2, 0, aor_test_now, &doc, &len);
	ASSERT_EQ(r, 0);
	got_init(&g);
	r = aor_reginfo_parse(doc, len, collect, &g);
	aor_reginfo_free(doc);
	ASSERT_EQ(r, 2);
	for(i = 0; i < 2 && !unit_failed; i++)
		assert_same(b[i], g.b[i]);
	got_free(&g);
	free(b[0]);
	free(b[1]);
}

int main(int argc, char **argv)
{
	int r;

	r = unit_run(argc > 1 ? argv[1] : NULL);
	xmlCleanupParser();
	return r;
}
