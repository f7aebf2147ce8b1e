/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The fast Contact parser (contact.h): the plain form of one contact read
 * into Kamailio's contact_t on the caller's stack, everything else left to
 * the core's parse_contact.
 */

#include <string.h>
#include <strings.h>

#include "../../core/trim.h"

#include "contact.h"

/* RFC 3261 25.1 token characters */
static int token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		   || (c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}

static const struct
{
	const char *name;
	ptype_t type;
} fast_names[] = {{"q", P_Q}, {"expires", P_EXPIRES}, {"methods", P_METHODS},
		{"received", P_RECEIVED}, {"+sip.instance", P_INSTANCE},
		{"reg-id", P_REG_ID}, {"flags", P_FLAGS},
		/* RFC 5626 ob: typed by the core, no hook in contact_t */
		{"ob", P_OB}};

/* sets the hook of contact_t the parameter type has, as the core does */
static void fast_hook(contact_t *c, param_t *p)
{
	unsigned int i;

	p->type = P_OTHER;
	for(i = 0; i < sizeof(fast_names) / sizeof(fast_names[0]); i++)
		if(strlen(fast_names[i].name) == (size_t)p->name.len
				&& strncasecmp(fast_names[i].name, p->name.s, p->name.len)
						   == 0) {
			p->type = fast_names[i].type;
			break;
		}
	switch(p->type) {
		case P_Q:
			c->q = p;
			break;
		case P_EXPIRES:
			c->expires = p;
			break;
		case P_METHODS:
			c->methods = p;
			break;
		case P_RECEIVED:
			c->received = p;
			break;
		case P_INSTANCE:
			c->instance = p;
			break;
		case P_REG_ID:
			c->reg_id = p;
			break;
		case P_FLAGS:
			c->flags = p;
			break;
		default:
			break;
	}
}

/* a ;name[=token|"quoted"] at *pp; 1 and *pp past it, or 0. The core's
 * parse_params takes a body in single quotes as quoted too (its content
 * is the body): such a body is left to it. */
static int fast_param(const char **pp, const char *end, param_t *p)
{
	const char *s = *pp;

	p->name.s = (char *)s;
	while(s < end && token_char(*s))
		s++;
	p->name.len = (int)(s - p->name.s);
	if(p->name.len == 0)
		return 0;
	p->body.s = NULL;
	p->body.len = 0;
	if(s < end && *s == '=') {
		s++;
		if(s < end && *s == '"') {
			/* a quoted-string without escapes; the body is its content,
			 * as the core's parser gives it */
			p->body.s = (char *)++s;
			while(s < end && *s != '"' && *s != '\\' && *s != '\r'
					&& *s != '\n')
				s++;
			if(s == end || *s != '"')
				return 0;
			p->body.len = (int)(s - p->body.s);
			s++;
		} else {
			if(s < end && *s == '\'')
				return 0;
			p->body.s = (char *)s;
			while(s < end && token_char(*s))
				s++;
			p->body.len = (int)(s - p->body.s);
			if(p->body.len == 0)
				return 0;
		}
	}
	p->len = (int)(s - p->name.s);
	*pp = s;
	return 1;
}

int aor_contact_fast(str body, aor_fast_contact_t *fc)
{
	const char *s, *end, *gt, *raw_end = body.s + body.len;
	int n = 0;

	trim(&body);
	s = body.s;
	end = body.s + body.len;
	if(body.len < 3 || *s != '<')
		return 0;
	gt = memchr(s, '>', body.len);
	/* the core reads a '"' in the URI as opening a quoted part in which
	 * '>' does not close it */
	if(gt == NULL || memchr(s + 1, '<', gt - s - 1) != NULL
			|| memchr(s + 1, '"', gt - s - 1) != NULL)
		return 0;
	memset(&fc->c, 0, sizeof(fc->c));
	fc->c.name.s = (char *)s; /* an empty display name, where the core has it */
	fc->c.uri.s = (char *)s + 1;
	fc->c.uri.len = (int)(gt - s - 1);
	/* as the core: "< sip:a@b >" is the URI "sip:a@b"; it refuses an
	 * empty one */
	trim(&fc->c.uri);
	if(fc->c.uri.len == 0)
		return 0;
	for(s = gt + 1; s < end; n++) {
		if(*s != ';' || n == AOR_FAST_PARAMS)
			return 0;
		s++;
		memset(&fc->p[n], 0, sizeof(fc->p[n]));
		if(!fast_param(&s, end, &fc->p[n]))
			return 0;
		fast_hook(&fc->c, &fc->p[n]);
		/* parse_params lists the parameters last first */
		fc->p[n].next = fc->c.params;
		fc->c.params = &fc->p[n];
	}
	/* the core counts trailing white space into the contact's length */
	fc->c.len = (int)(raw_end - body.s);
	return 1;
}
