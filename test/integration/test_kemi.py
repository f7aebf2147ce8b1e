"""KEMI: a JavaScript routing script (app_jsdt) registers and looks up
through KSR.aor.*, and receives the binding events through the module's
event_callback."""

import os
import re

import kam as kammod
from checks import assert_ok


class KemiKamailio(kammod.Kamailio):
    """The harness's cfg without its native request_route: with a native
    request_route present Kamailio ignores cfgengine for requests."""

    def build_cfg(self, *a, **kw):
        text = super().build_cfg(*a, **kw)
        return re.sub(r"\nrequest_route \{.*\}\s*$", "\n", text,
                      flags=re.S)

SCRIPT = r"""
function ksr_request_route() {
    if (KSR.is_method("OPTIONS") && KSR.pv.is_null("$rU")) {
        KSR.sl.sl_send_reply(200, "OK");
        return;
    }
    if (KSR.is_method("REGISTER")) {
        if (KSR.aor.save("location", 0) < 0) {
            KSR.info("save failed\n");
        }
        return;
    }
    if (KSR.pv.gete("$hdr(X-Op)") == "registered") {
        if (KSR.aor.registered("location") > 0) {
            KSR.sl.sl_send_reply(200, "Registered");
        } else {
            KSR.sl.sl_send_reply(404, "Not Registered");
        }
        return;
    }
    var r = KSR.aor.lookup("location");
    if (r < 0) {
        KSR.sl.sl_send_reply(404, "Not Found " + r);
        return;
    }
    KSR.tm.t_relay();
}

function ksr_aor_event(evname) {
    var n = KSR.pv.get("$sht(ev=>" + evname + ")");
    KSR.htable.sht_seti("ev", evname, (n == null ? 0 : n) + 1);
    KSR.htable.sht_sets("ev", "last", KSR.pv.gete("$xavp(aor=>contact)"));
}
"""


def test_kemi_script_registers_and_looks_up(kamailio_factory, uas_factory,
                                            tmp_path, user):
    js = os.path.join(str(tmp_path), "aor.js")
    with open(js, "w") as f:
        f.write(SCRIPT)
    kammod_cls, kammod.Kamailio = kammod.Kamailio, KemiKamailio
    try:
        k = kamailio_factory(
            modules=["app_jsdt", "htable"],
            modparams={"event_callback": "ksr_aor_event"},
            extra='modparam("app_jsdt", "load", "%s")\n'
                  'modparam("htable", "htable", "ev=>size=4;")\n'
                  'cfgengine "jsdt"\n' % js)
    finally:
        kammod.Kamailio = kammod_cls
    uas = uas_factory()
    with k.client() as c:
        assert_ok(c.register(k.aor(user), [uas.contact(user)], expires=300))
        q = c.query(k.aor(user))
        assert_ok(q)
        assert q.contact_uris() == [uas.contact(user)]
        r = c.invite(k.ruri(user), headers=[("X-Op", "registered")],
                     method="MESSAGE")
        assert (r.status, r.reason) == (200, "Registered")
        r = c.invite(k.ruri(user))
        assert r.status == 200, r.raw
        assert uas.wait_for("INVITE").ruri == uas.contact(user)
        r = c.invite(k.ruri(user + "nobody"))
        assert (r.status, r.reason) == (404, "Not Found -1")
    out = k.kamcmd("htable.get", "ev", "aor:contact-inserted")
    assert "value: 1" in out
    out = k.kamcmd("htable.get", "ev", "last")
    assert uas.contact(user) in out


STOCK_SCRIPT = r"""
function ksr_request_route() {
    if (KSR.is_method("OPTIONS") && KSR.pv.is_null("$rU")) {
        KSR.sl.sl_send_reply(200, "OK");
        return;
    }
    if (KSR.is_method("REGISTER")) {
        var q = KSR.pv.gete("$hdr(X-Q)");
        if (q != "") {
            KSR.registrar.set_q_override(q);
        }
        var rc = KSR.registrar.save("kemi", 0);
        if (rc < 0) {
            KSR.sl.sl_reply_error();
        }
        return;
    }
    if (KSR.pv.gete("$hdr(X-Op)") == "registered") {
        var g = KSR.registrar.registered("kemi");
        KSR.sl.sl_send_reply(200, "Registered " + g);
        return;
    }
    var r = KSR.registrar.lookup("kemi");
    if (r < 0) {
        KSR.sl.sl_send_reply(404, "Not Found " + r);
        return;
    }
    KSR.tm.t_relay();
}
"""


def test_kemi_stock_names(kamailio_factory, uas_factory, tmp_path, user):
    """A KEMI script written for the stock registrar (KSR.registrar.save,
    set_q_override, registered, lookup, on a table named by `preload`) runs unchanged with
    aor, with stock's replies: stock is the oracle in the same test."""
    js = os.path.join(str(tmp_path), "stock.js")
    with open(js, "w") as f:
        f.write(STOCK_SCRIPT)
    seen = {}
    for impl in ("stock", "aor"):
        kammod_cls, kammod.Kamailio = kammod.Kamailio, KemiKamailio
        try:
            k = kamailio_factory(
                impl=impl, stock_defaults=True, modules=["app_jsdt"],
                # KEMI has no fixups: the table the script names is
                # preloaded (usrloc's preload, aor's)
                modparams={"preload": "kemi"},
                extra='modparam("app_jsdt", "load", "%s")\n'
                      'cfgengine "jsdt"\n' % js)
        finally:
            kammod.Kamailio = kammod_cls
        uas = uas_factory()
        obs = []
        with k.client() as c:
            r = c.register(k.aor(user), [uas.contact(user)], expires=15)
            obs.append((r.status, [x.expires for x in r.contacts()]))
            # set_q_override: the contact's own q=0.9 replaced by 0.3
            r = c.register(k.aor(user), ["<%s>;q=0.9" % uas.contact(user)],
                           expires=300, headers=[("X-Q", "0.3")])
            obs.append((r.status, [x.q for x in r.contacts()]))
            for u in (user, user + "nobody"):
                r = c.invite(k.ruri(u), headers=[("X-Op", "registered")],
                             method="MESSAGE")
                obs.append((r.status, r.reason))
            r = c.invite(k.ruri(user))
            obs.append((r.status, uas.wait_for("INVITE") is not None))
            r = c.invite(k.ruri(user + "nobody"))
            obs.append((r.status, r.reason))
        seen[impl] = obs
    assert seen["aor"] == seen["stock"]
    assert seen["aor"][0] == (200, [60])
    assert seen["aor"][1] == (200, [0.3])
