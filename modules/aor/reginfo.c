/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * RFC 3680 reginfo documents with libxml2: rendering one AoR's bindings
 * (section 5.3, schema 5.4) and reading such a document back into binding
 * inputs. The parser never touches the network, never loads or expands a
 * DTD (a document with one is rejected) and validates the whole tree
 * before it hands out the first binding.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/chvalid.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "sys.h"
#include "errors.h"
#include "reginfo.h"

#define BAD_CAST_S(s) ((const xmlChar *)(s))

/* extension element names (AOR_REGINFO_EXT_NS) */
#define EXT_RECEIVED "received"
#define EXT_PATH "path"
#define EXT_UA "user-agent"
#define EXT_SOCKET "socket"
#define EXT_FLAGS "flags"
#define EXT_METHODS "methods"
#define EXT_MODIFIED "modified"
#define EXT_EXPIRES_AT "expires-at"
#define EXT_VERSION "version"
#define EXT_RAW "raw"

#define PARAM_INSTANCE "+sip.instance"
#define PARAM_REG_ID "reg-id"

#define METHODS_ANY 0xffffffffu

/* ------------------------------------------------------------------ */
/* rendering                                                          */

/* what the render helpers share: the first failure sticks, so that a
 * document is written straight through and checked once at the end */
struct out
{
	xmlTextWriterPtr w;
	char *buf;		  /* scratch of AOR_REGINFO_SCRATCH bytes */
	unsigned int raw; /* bit f: field f had to be altered for XML */
	int failed;
};

/* the name of each string field in an <aor:raw field="..."> element */
static const char *const field_name[AOR_F_COUNT] = {
		[AOR_F_AOR] = "aor",
		[AOR_F_URI] = "uri",
		[AOR_F_RECEIVED] = EXT_RECEIVED,
		[AOR_F_PATH] = EXT_PATH,
		[AOR_F_UA] = EXT_UA,
		[AOR_F_CALLID] = "callid",
		[AOR_F_INSTANCE] = "instance",
		[AOR_F_SOCK] = EXT_SOCKET,
};

/* Length of the XML 1.0 Char (section 2.2) encoded in UTF-8 at p (n > 0
 * bytes left), or 0 when the bytes there are not one. */
static int xml_char_len(const unsigned char *p, int n)
{
	unsigned int c;
	int l, i;

	if(p[0] < 0x80)
		return (p[0] >= 0x20 || p[0] == '\t' || p[0] == '\n' || p[0] == '\r')
					   ? 1
					   : 0;
	if(p[0] >= 0xc2 && p[0] <= 0xdf) {
		l = 2;
		c = p[0] & 0x1f;
	} else if((p[0] & 0xf0) == 0xe0) {
		l = 3;
		c = p[0] & 0x0f;
	} else if(p[0] >= 0xf0 && p[0] <= 0xf4) {
		l = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if(l > n)
		return 0;
	for(i = 1; i < l; i++) {
		if((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if((l == 3 && c < 0x800) || (l == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0; /* overlong or beyond Unicode */
	return xmlIsCharQ(c) ? l : 0;
}

/* Field f's value s as a NUL-terminated string in o->buf, each byte XML
 * cannot carry replaced by '?' (same length); marks f in o->raw when a
 * byte was replaced, so that the exact bytes follow in <aor:raw>. */
static const xmlChar *safe(struct out *o, str s, enum aor_field f)
{
	const unsigned char *p = (const unsigned char *)s.s;
	int i = 0, l;

	while(i < s.len) {
		l = xml_char_len(p + i, s.len - i);
		if(l == 0) {
			o->buf[i++] = '?';
			o->raw |= 1u << f;
			continue;
		}
		memcpy(o->buf + i, p + i, l);
		i += l;
	}
	o->buf[i] = '\0';
	return BAD_CAST_S(o->buf);
}

static void start(struct out *o, const char *name)
{
	if(!o->failed && xmlTextWriterStartElement(o->w, BAD_CAST_S(name)) < 0)
		o->failed = 1;
}

static void end(struct out *o)
{
	if(!o->failed && xmlTextWriterEndElement(o->w) < 0)
		o->failed = 1;
}

static void prop(struct out *o, const char *name, const xmlChar *v)
{
	if(!o->failed && xmlTextWriterWriteAttribute(o->w, BAD_CAST_S(name), v) < 0)
		o->failed = 1;
}

static void prop_num(struct out *o, const char *name, unsigned long long v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", v);
	prop(o, name, BAD_CAST_S(b));
}

/* an element holding text (escaped by libxml2) */
static void elem(struct out *o, const char *name, const xmlChar *text)
{
	if(!o->failed
			&& xmlTextWriterWriteElement(o->w, BAD_CAST_S(name), text) < 0)
		o->failed = 1;
}

/* an extension element holding field f of b, left out when empty */
static void ext_str(
		struct out *o, const char *name, const aor_binding_t *b, int f)
{
	str s = aor_binding_get(b, f);

	if(s.len > 0)
		elem(o, name, safe(o, s, f));
}

static void ext_num(struct out *o, const char *name, unsigned long long v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", v);
	elem(o, name, BAD_CAST_S(b));
}

/* <aor:raw field="NAME">HEX</aor:raw>: the exact bytes of a field that
 * XML could not carry (the element or attribute holds '?' for them) */
static void raw(struct out *o, int f, str s)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for(i = 0; i < s.len; i++) {
		o->buf[2 * i] = hex[(unsigned char)s.s[i] >> 4];
		o->buf[2 * i + 1] = hex[(unsigned char)s.s[i] & 15];
	}
	o->buf[2 * s.len] = '\0';
	start(o, "aor:" EXT_RAW);
	prop(o, "field", BAD_CAST_S(field_name[f]));
	if(!o->failed && xmlTextWriterWriteString(o->w, BAD_CAST_S(o->buf)) < 0)
		o->failed = 1;
	end(o);
}

/* RFC 3261 20.10 qvalue from thousandths: 500 -> "0.5", 1000 -> "1.0" */
static void fmt_q(int q, char *b)
{
	int l;

	l = sprintf(b, "%d.%03d", q / 1000, q % 1000);
	while(l > 3 && b[l - 1] == '0')
		b[--l] = '\0';
}

static void unknown_param_out(struct out *o, const char *name, const xmlChar *v)
{
	start(o, "unknown-param");
	prop(o, "name", BAD_CAST_S(name));
	if(!o->failed && xmlTextWriterWriteString(o->w, v) < 0)
		o->failed = 1;
	end(o);
}

/* RFC 3680 5.3 and 5.4: one <contact> of the schema's sequence uri,
 * unknown-param*, then our extension elements (its xs:any ##other) */
static void render_contact(struct out *o, const aor_binding_t *b, time_t now)
{
	char rb[AOR_RUID_LEN + 1], q[16], rid[16];
	int f;

	o->raw = 0;
	start(o, "contact");
	prop(o, "state", BAD_CAST_S("active"));
	prop(o, "event", BAD_CAST_S("registered"));
	if(b->expires != 0)
		prop_num(o, "expires", aor_binding_left(b, now));
	aor_ruid_fmt(b->id, rb);
	prop(o, "id", BAD_CAST_S(rb));
	if(b->q != AOR_Q_UNSPEC) {
		fmt_q(b->q, q);
		prop(o, "q", BAD_CAST_S(q));
	}
	prop(o, "callid", safe(o, aor_binding_get(b, AOR_F_CALLID), AOR_F_CALLID));
	prop_num(o, "cseq", b->cseq);

	elem(o, "uri", safe(o, aor_binding_get(b, AOR_F_URI), AOR_F_URI));
	if(aor_binding_get(b, AOR_F_INSTANCE).len > 0)
		unknown_param_out(o, PARAM_INSTANCE,
				safe(o, aor_binding_get(b, AOR_F_INSTANCE), AOR_F_INSTANCE));
	if(b->reg_id != 0) {
		snprintf(rid, sizeof(rid), "%d", (int)b->reg_id);
		unknown_param_out(o, PARAM_REG_ID, BAD_CAST_S(rid));
	}

	ext_str(o, "aor:" EXT_RECEIVED, b, AOR_F_RECEIVED);
	ext_str(o, "aor:" EXT_PATH, b, AOR_F_PATH);
	ext_str(o, "aor:" EXT_UA, b, AOR_F_UA);
	ext_str(o, "aor:" EXT_SOCKET, b, AOR_F_SOCK);
	if(b->cflags != 0)
		ext_num(o, "aor:" EXT_FLAGS, b->cflags);
	if(b->methods != METHODS_ANY)
		ext_num(o, "aor:" EXT_METHODS, b->methods);
	ext_num(o, "aor:" EXT_MODIFIED, (unsigned long long)b->modified);
	ext_num(o, "aor:" EXT_EXPIRES_AT, (unsigned long long)b->expires);
	if(b->version != 0)
		ext_num(o, "aor:" EXT_VERSION, (unsigned long long)b->version);
	for(f = AOR_F_URI; f < AOR_F_COUNT; f++)
		if(o->raw & (1u << f))
			raw(o, f, aor_binding_get(b, f));
	end(o);
}

int aor_reginfo_write_start(xmlTextWriterPtr w, uint32_t version)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", version);
	if(xmlTextWriterStartElement(w, BAD_CAST_S("reginfo")) < 0
			|| xmlTextWriterWriteAttribute(
					   w, BAD_CAST_S("xmlns"), BAD_CAST_S(AOR_REGINFO_NS))
					   < 0
			|| xmlTextWriterWriteAttribute(w, BAD_CAST_S("xmlns:aor"),
					   BAD_CAST_S(AOR_REGINFO_EXT_NS))
					   < 0
			|| xmlTextWriterWriteAttribute(
					   w, BAD_CAST_S("version"), BAD_CAST_S(v))
					   < 0
			|| xmlTextWriterWriteAttribute(
					   w, BAD_CAST_S("state"), BAD_CAST_S("full"))
					   < 0)
		return AOR_E_INTERNAL;
	return 0;
}

int aor_reginfo_write_reg(xmlTextWriterPtr w, char *scratch, const str *aor,
		aor_binding_t *const *v, int n, time_t now)
{
	struct out o = {w, scratch, 0, 0};
	unsigned int key_raw;
	int i;

	if(aor == NULL || aor->len <= 0 || aor->len > AOR_BINDING_MAX_DATA || n < 0
			|| (n > 0 && v == NULL))
		return AOR_E_INTERNAL;
	/* RFC 3680 5.3: aor is a URI; the id names the AoR, so the key */
	start(&o, "registration");
	memcpy(o.buf, "sip:", 4);
	memcpy(o.buf + 4, aor->s, aor->len);
	prop(&o, "aor", safe(&o, (str){o.buf, aor->len + 4}, AOR_F_AOR));
	prop(&o, "id", safe(&o, *aor, AOR_F_AOR));
	prop(&o, "state", BAD_CAST_S(n > 0 ? "active" : "init"));
	key_raw = o.raw;
	for(i = 0; i < n; i++)
		render_contact(&o, v[i], now);
	if(key_raw)
		raw(&o, AOR_F_AOR, *aor);
	end(&o);
	return o.failed ? AOR_E_INTERNAL : 0;
}

int aor_reginfo_render(const str *aor, aor_binding_t *const *v, int n,
		uint32_t version, time_t now, char **out, int *len)
{
	xmlTextWriterPtr w = NULL;
	xmlBufferPtr xb;
	char *scratch;
	int ret = AOR_E_NOMEM;

	*out = NULL;
	*len = 0;
	if(aor == NULL || aor->len <= 0 || n < 0 || (n > 0 && v == NULL))
		return AOR_E_INTERNAL;
	scratch = malloc(AOR_REGINFO_SCRATCH);
	xb = xmlBufferCreate();
	if(scratch == NULL || xb == NULL)
		goto out;
	w = xmlNewTextWriterMemory(xb, 0);
	if(w == NULL)
		goto out;
	xmlTextWriterSetIndent(w, 1);
	xmlTextWriterSetIndentString(w, BAD_CAST_S("  "));
	if(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0
			|| aor_reginfo_write_start(w, version) < 0)
		goto out;
	if(aor_reginfo_write_reg(w, scratch, aor, v, n, now) < 0)
		goto out;
	if(xmlTextWriterEndDocument(w) < 0)
		goto out;
	xmlFreeTextWriter(w); /* flushes into xb */
	w = NULL;
	*len = (int)xmlBufferLength(xb);
	*out = (char *)xmlBufferDetach(xb);
	if(*out != NULL)
		ret = 0;
out:
	if(ret < 0)
		AOR_LOG_ERR("aor %.*s: cannot render reginfo (out of memory)\n",
				aor->len, aor->s);
	if(w != NULL)
		xmlFreeTextWriter(w);
	if(xb != NULL)
		xmlBufferFree(xb);
	free(scratch);
	return ret;
}

void aor_reginfo_free(char *doc)
{
	if(doc != NULL)
		xmlFree(doc);
}

/* ------------------------------------------------------------------ */
/* parsing                                                            */

/* 1 when n is the element name of namespace ns */
static int is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL
		   && strcmp((const char *)n->ns->href, ns) == 0
		   && strcmp((const char *)n->name, name) == 0;
}

static int in_ns(const xmlNode *n, const char *ns)
{
	return n->ns != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

/* The text of an attribute or element without further markup: *s points
 * into the tree. 0, or -1 when a comment or an element is in the way. */
static int text_of(const xmlNode *children, str *s)
{
	s->s = "";
	s->len = 0;
	if(children == NULL)
		return 0;
	if(children->next != NULL
			|| (children->type != XML_TEXT_NODE
					&& children->type != XML_CDATA_SECTION_NODE))
		return -1;
	if(children->content != NULL) {
		s->s = (char *)children->content;
		s->len = strlen(s->s);
	}
	return 0;
}

/* the unprefixed attribute name of n: 1 and *s set, 0 when absent, -1 when
 * malformed */
static int attr(const xmlNode *n, const char *name, str *s)
{
	const xmlAttr *a;

	for(a = n->properties; a != NULL; a = a->next)
		if(a->ns == NULL && strcmp((const char *)a->name, name) == 0)
			return text_of(a->children, s) < 0 ? -1 : 1;
	return 0;
}

/* decimal digits only, at most max */
static int num(str s, unsigned long long max, unsigned long long *v)
{
	unsigned long long x = 0;
	int i;

	if(s.len <= 0 || s.len > 20)
		return -1;
	for(i = 0; i < s.len; i++) {
		if(s.s[i] < '0' || s.s[i] > '9')
			return -1;
		if(x > (max - (s.s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (s.s[i] - '0');
	}
	*v = x;
	return 0;
}

/* a numeric attribute of n; absent leaves *v alone */
static int attr_num(const xmlNode *n, const char *name, unsigned long long max,
		unsigned long long *v)
{
	str s;
	int r;

	r = attr(n, name, &s);
	if(r <= 0)
		return r;
	return num(s, max, v) < 0 ? -1 : 1;
}

/* RFC 3261 25.1 qvalue ("0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]) to
 * thousandths, or -1 */
static int parse_q(str s)
{
	int q, i, scale = 100;

	if(s.len < 1 || s.len > 5 || (s.s[0] != '0' && s.s[0] != '1'))
		return -1;
	q = (s.s[0] - '0') * 1000;
	if(s.len == 1)
		return q;
	if(s.s[1] != '.')
		return -1;
	for(i = 2; i < s.len; i++, scale /= 10) {
		if(s.s[i] < '0' || s.s[i] > '9')
			return -1;
		q += (s.s[i] - '0') * scale;
	}
	return q <= 1000 ? q : -1;
}

/* the <contact> attributes RFC 3680 5.4 defines and we keep */
static int contact_attrs(const xmlNode *c, aor_binding_in_t *in, long long *rel)
{
	unsigned long long v;
	str s;
	int r;

	if(attr(c, "id", &s) > 0 && aor_ruid_parse(&s, &in->id) < 0)
		in->id = 0; /* not one of ours: the store assigns one */
	v = 0;
	/* xs:unsignedLong; aor_expires_abs clamps what is absurd */
	r = attr_num(c, "expires", INT64_MAX, &v);
	if(r < 0)
		return AOR_E_BAD_EXPIRES;
	*rel = r > 0 ? (long long)v : -1;
	if((r = attr(c, "q", &s)) < 0)
		return AOR_E_BAD_Q;
	if(r > 0 && (in->q = parse_q(s)) < 0)
		return AOR_E_BAD_Q;
	if(attr(c, "callid", &in->f[AOR_F_CALLID]) < 0)
		return AOR_E_BAD_CALLID;
	v = 0;
	if(attr_num(c, "cseq", 0xffffffffull, &v) < 0)
		return AOR_E_BAD_CSEQ;
	in->cseq = (uint32_t)v;
	return 0;
}

static int unknown_param(const xmlNode *e, aor_binding_in_t *in)
{
	unsigned long long v;
	str name, val;

	if(attr(e, "name", &name) <= 0 || text_of(e->children, &val) < 0)
		return AOR_E_BAD_CONTACT;
	if(name.len == sizeof(PARAM_INSTANCE) - 1
			&& strncasecmp(name.s, PARAM_INSTANCE, name.len) == 0) {
		in->f[AOR_F_INSTANCE] = val;
	} else if(name.len == sizeof(PARAM_REG_ID) - 1
			  && strncasecmp(name.s, PARAM_REG_ID, name.len) == 0) {
		/* RFC 5626 reg-id: 1 to 2^31-1 */
		if(num(val, 0x7fffffffull, &v) < 0 || v == 0)
			return AOR_E_BAD_CONTACT;
		in->reg_id = (int32_t)v;
	}
	return 0; /* other parameters are not kept */
}

/* one of our extension elements; unknown ones are skipped */
static int ext_elem(
		const xmlNode *e, aor_binding_in_t *in, time_t *exp_at, int *have_exp)
{
	static const struct
	{
		const char *name;
		enum aor_field f;
	} strs[] = {{EXT_RECEIVED, AOR_F_RECEIVED}, {EXT_PATH, AOR_F_PATH},
			{EXT_UA, AOR_F_UA}, {EXT_SOCKET, AOR_F_SOCK}};
	unsigned long long v;
	unsigned int i;
	str s;

	if(text_of(e->children, &s) < 0)
		return AOR_E_BAD_CONTACT;
	for(i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if(strcmp((const char *)e->name, strs[i].name) == 0) {
			in->f[strs[i].f] = s;
			return 0;
		}
	if(strcmp((const char *)e->name, EXT_FLAGS) == 0) {
		if(num(s, 0xffffffffull, &v) < 0)
			return AOR_E_BAD_CONTACT;
		in->cflags = (uint32_t)v;
	} else if(strcmp((const char *)e->name, EXT_METHODS) == 0) {
		if(num(s, 0xffffffffull, &v) < 0)
			return AOR_E_BAD_CONTACT;
		in->methods = (uint32_t)v;
	} else if(strcmp((const char *)e->name, EXT_MODIFIED) == 0) {
		if(num(s, INT64_MAX, &v) < 0)
			return AOR_E_BAD_CONTACT;
		in->modified = (time_t)v;
	} else if(strcmp((const char *)e->name, EXT_VERSION) == 0) {
		/* the journal's version (store.h); 0 or absent: the store gives
		 * a new one */
		if(num(s, UINT64_MAX, &v) < 0)
			return AOR_E_BAD_CONTACT;
		in->version = (uint64_t)v;
	} else if(strcmp((const char *)e->name, EXT_EXPIRES_AT) == 0) {
		if(num(s, INT64_MAX, &v) < 0)
			return AOR_E_BAD_CONTACT;
		*exp_at = (time_t)v;
		*have_exp = 1;
	}
	return 0;
}

/* where <aor:raw> bytes are decoded: never into the tree, whose strings
 * libxml2 may share between nodes (its dictionary) */
struct rawbuf
{
	int decode; /* 0 in the checking pass: nothing is decoded */
	char *p;	/* allocated at the first <aor:raw> to decode */
	int base;	/* bytes of the AoR key, kept while contacts are decoded */
	int used;
};

#define RAWBUF_SIZE (2 * (AOR_BINDING_MAX_DATA + 1))

/* An <aor:raw field="NAME">HEX</aor:raw> element: the field's index into
 * *f and its bytes into *s, decoded into rb (in the checking pass, *s
 * points at the hex with the decoded length, enough to check sizes). 0,
 * -1 when malformed, -2 when longer than a binding can hold, -3 when out
 * of memory. */
static int raw_in(const xmlNode *e, struct rawbuf *rb, int *f, str *s)
{
	str name, hex;
	int i, hi, lo;
	char *out;

	if(attr(e, "field", &name) <= 0 || text_of(e->children, &hex) < 0
			|| hex.len % 2 != 0)
		return -1;
	for(*f = 0; *f < AOR_F_COUNT; (*f)++)
		if(strlen(field_name[*f]) == (size_t)name.len
				&& memcmp(field_name[*f], name.s, name.len) == 0)
			break;
	if(*f == AOR_F_COUNT)
		return -1;
	if(rb->used + hex.len / 2 > RAWBUF_SIZE)
		return -2;
	if(rb->decode && rb->p == NULL && (rb->p = malloc(RAWBUF_SIZE)) == NULL)
		return -3;
	out = rb->decode ? rb->p + rb->used : NULL;
	for(i = 0; i < hex.len; i += 2) {
		hi = aor_hexval(hex.s[i]);
		lo = aor_hexval(hex.s[i + 1]);
		if(hi < 0 || lo < 0)
			return -1;
		if(out)
			out[i / 2] = (char)(hi << 4 | lo);
	}
	s->s = out ? out : hex.s;
	s->len = hex.len / 2;
	rb->used += s->len;
	return 0;
}

/* the <aor:raw> children of a contact override the fields they name */
static int contact_raw(
		const xmlNode *c, aor_binding_in_t *in, struct rawbuf *rb)
{
	const xmlNode *e;
	int f, r;
	str s;

	rb->used = rb->base;
	for(e = c->children; e != NULL; e = e->next) {
		if(!is_el(e, AOR_REGINFO_EXT_NS, EXT_RAW))
			continue;
		if((r = raw_in(e, rb, &f, &s)) == -2)
			return AOR_E_TOO_LONG;
		if(r == -3)
			return AOR_E_NOMEM;
		if(r < 0 || f == AOR_F_AOR)
			return AOR_E_BAD_CONTACT;
		in->f[f] = s;
	}
	return 0;
}

/* the children of <contact>: exactly one <uri>, then the rest */
static int contact_children(const xmlNode *c, aor_binding_in_t *in,
		time_t *exp_at, int *have_exp, struct rawbuf *rb)
{
	const xmlNode *e;
	int uris = 0, r = 0;

	for(e = c->children; e != NULL && r == 0; e = e->next) {
		if(e->type != XML_ELEMENT_NODE)
			continue;
		if(is_el(e, AOR_REGINFO_NS, "uri")) {
			if(uris++ > 0 || text_of(e->children, &in->f[AOR_F_URI]) < 0)
				r = AOR_E_BAD_CONTACT;
		} else if(is_el(e, AOR_REGINFO_NS, "unknown-param")) {
			r = unknown_param(e, in);
		} else if(is_el(e, AOR_REGINFO_NS, "display-name")) {
			continue; /* a binding has no display name */
		} else if(in_ns(e, AOR_REGINFO_NS)) {
			r = AOR_E_BAD_CONTACT; /* not in the RFC 3680 schema */
		} else if(in_ns(e, AOR_REGINFO_EXT_NS)) {
			r = ext_elem(e, in, exp_at, have_exp);
		} /* elements of other namespaces: extensions we do not know */
	}
	if(r == 0)
		r = contact_raw(c, in, rb);
	if(r == 0 && (uris != 1 || in->f[AOR_F_URI].len == 0))
		r = AOR_E_BAD_CONTACT;
	return r;
}

/* One <contact> into in (strings pointing into the tree). Returns 1 for
 * an active contact, 0 for a terminated one (skipped), or an error. */
static int contact_in(const xmlNode *c, const str *key, aor_binding_in_t *in,
		struct rawbuf *rb)
{
	time_t exp_at = 0, now = aor_now();
	int have_exp = 0, r;
	long long rel;
	str st;

	memset(in, 0, sizeof(*in));
	in->f[AOR_F_AOR] = *key;
	in->q = AOR_Q_UNSPEC;
	in->methods = METHODS_ANY;
	in->modified = now;
	if(attr(c, "state", &st) <= 0)
		return AOR_E_BAD_CONTACT;
	if(st.len == 10 && memcmp(st.s, "terminated", 10) == 0)
		return 0;
	if(st.len != 6 || memcmp(st.s, "active", 6) != 0)
		return AOR_E_BAD_CONTACT;
	if((r = contact_attrs(c, in, &rel)) < 0)
		return r;
	if((r = contact_children(c, in, &exp_at, &have_exp, rb)) < 0)
		return r;
	/* our absolute expiry wins: it does not grow while a snapshot waits */
	if(have_exp)
		in->expires = exp_at;
	else if(rel >= 0)
		in->expires = aor_expires_abs(now, rel);
	if(aor_binding_size_in(in) == 0)
		return AOR_E_TOO_LONG;
	return 1;
}

/* the AoR key of a <registration>: its aor after "sip:", or the exact
 * bytes of its <aor:raw field="aor"> (decoded into rb, see raw_in) */
static int reg_key(const xmlNode *reg, struct rawbuf *rb, str *key)
{
	const xmlNode *e;
	str aor;
	int f, r;

	if(attr(reg, "aor", &aor) <= 0 || aor.len <= 4
			|| strncasecmp(aor.s, "sip:", 4) != 0)
		return AOR_E_BAD_AOR;
	key->s = aor.s + 4;
	key->len = aor.len - 4;
	for(e = reg->children; e != NULL; e = e->next) {
		if(!is_el(e, AOR_REGINFO_EXT_NS, EXT_RAW))
			continue;
		rb->used = 0;
		if((r = raw_in(e, rb, &f, key)) == -3)
			return AOR_E_NOMEM;
		if(r < 0 || f != AOR_F_AOR || key->len == 0)
			return AOR_E_BAD_AOR;
	}
	rb->base = rb->used;
	return 0;
}

/* one <registration>: its contacts, handed to cb unless cb is NULL (the
 * checking pass, which decodes nothing) */
static int registration(const xmlNode *reg, aor_reginfo_cb cb, void *arg)
{
	struct rawbuf rb = {cb != NULL, NULL, 0, 0};
	aor_binding_in_t in;
	const xmlNode *c;
	str key;
	int n = 0, r;

	if((r = reg_key(reg, &rb, &key)) < 0)
		goto out;
	for(c = reg->children; c != NULL; c = c->next) {
		if(c->type != XML_ELEMENT_NODE)
			continue;
		if(!in_ns(c, AOR_REGINFO_NS))
			continue; /* an extension */
		r = AOR_E_BAD_CONTACT;
		if(!is_el(c, AOR_REGINFO_NS, "contact"))
			goto out;
		if((r = contact_in(c, &key, &in, &rb)) < 0)
			goto out;
		if(r == 0)
			continue;
		if(cb != NULL && (r = cb(&in, arg)) < 0)
			goto out;
		n++;
	}
	r = n;
out:
	free(rb.p);
	return r;
}

/* the root <reginfo> (RFC 3680 5.4: version and state required) */
static int reginfo_root(const xmlNode *root)
{
	unsigned long long v;
	str st;

	if(root == NULL || !is_el(root, AOR_REGINFO_NS, "reginfo"))
		return AOR_E_INTERNAL;
	if(attr_num(root, "version", 0xffffffffull, &v) <= 0)
		return AOR_E_INTERNAL;
	if(attr(root, "state", &st) <= 0)
		return AOR_E_INTERNAL;
	if(!(st.len == 4 && memcmp(st.s, "full", 4) == 0)
			&& !(st.len == 7 && memcmp(st.s, "partial", 7) == 0))
		return AOR_E_INTERNAL;
	return 0;
}

static int walk(const xmlNode *root, aor_reginfo_cb cb, void *arg)
{
	const xmlNode *e;
	int n = 0, r;

	for(e = root->children; e != NULL; e = e->next) {
		if(e->type != XML_ELEMENT_NODE || !in_ns(e, AOR_REGINFO_NS))
			continue;
		if(!is_el(e, AOR_REGINFO_NS, "registration"))
			return AOR_E_INTERNAL;
		if((r = registration(e, cb, arg)) < 0)
			return r;
		n += r;
	}
	return n;
}

int aor_reginfo_parse_reg(xmlNodePtr reg, aor_reginfo_cb cb, void *arg)
{
	int r;

	if(reg == NULL || !is_el(reg, AOR_REGINFO_NS, "registration"))
		return AOR_E_INTERNAL;
	r = registration(reg, NULL, NULL);
	if(r >= 0 && cb != NULL)
		r = registration(reg, cb, arg);
	return r;
}

static void quiet(void *ctx, xmlErrorPtr err)
{
	(void)ctx;
	if(err != NULL && err->message != NULL)
		AOR_LOG_DBG("reginfo: line %d: %s", err->line, err->message);
}

int aor_reginfo_parse(const char *buf, int len, aor_reginfo_cb cb, void *arg)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	xmlNodePtr root;
	int r;

	if(buf == NULL || len <= 0)
		return AOR_E_INTERNAL;
	ctxt = xmlNewParserCtxt();
	if(ctxt == NULL)
		return AOR_E_NOMEM;
	/* errors are the caller's to report, not libxml2's on stderr */
	ctxt->sax->serror = quiet;
	/* no XML_PARSE_NOENT, DTDLOAD, XINCLUDE or HUGE: libxml2's limits on
	 * depth and text length stay on */
	doc = xmlCtxtReadMemory(ctxt, buf, len, NULL, NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
					| XML_PARSE_NOCDATA);
	xmlFreeParserCtxt(ctxt);
	if(doc == NULL)
		return AOR_E_INTERNAL;
	root = xmlDocGetRootElement(doc);
	if(doc->intSubset != NULL || doc->extSubset != NULL)
		r = AOR_E_INTERNAL; /* no DTD, so no entity of any kind */
	else
		r = reginfo_root(root);
	if(r == 0)
		r = walk(root, NULL, NULL);
	if(r >= 0 && cb != NULL)
		r = walk(root, cb, arg);
	xmlFreeDoc(doc);
	return r;
}
