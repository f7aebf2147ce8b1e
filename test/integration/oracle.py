"""Stock registrar+usrloc as the oracle (DESIGN.md, "Tests"): a stock and
an aor Kamailio started with the same script and modparams, the same
scenario run on each, the two results side by side for the test to compare.

    pair = oracle.start(module_kamailio, modparams=PARAMS, route=ROUTE)
    r = oracle.both(pair, lambda k, c: c.register(k.aor(user), [ct]))
    assert r["stock"].status == r["aor"].status == 200

Stock runs first, then aor, one scenario at a time; a scenario that needs
both servers at once (a binding on one, a look at the other) takes the
pair itself.
"""

import sip

IMPLS = ("stock", "aor")

# the module whose script and KEMI functions each one exports
# (KSR.registrar.save, KSR.aor.save)
MODULE = {"stock": "registrar", "aor": "aor"}


def start(factory, port2=None, per_impl=None, **kw):
    """A stock and an aor Kamailio, factory(impl=..., **kw) each (factory:
    conftest's kamailio_factory or module_kamailio, or anything called so;
    kw: kam.Kamailio's keywords): {"stock": k, "aor": k}.
    port2: each also listens on a UDP port of its own, k.port2, with this
    text after it on its listen line ("", or "advertise HOST:PORT").
    per_impl(impl): more keywords for that one (its own port, its own
    script file)."""
    pair = {}
    for impl in IMPLS:
        args = dict(kw, **(per_impl(impl) if per_impl else {}))
        port = None
        if port2 is not None:
            port = sip.free_udp_port()
            listen = "listen=udp:127.0.0.1:%d %s" % (port, port2)
            args["globals_"] = "%s\n%s" % (args.get("globals_") or "",
                                            listen.rstrip())
        pair[impl] = factory(impl=impl, **args)
        if port is not None:
            pair[impl].port2 = port
    return pair


def kemi_lines(tmp_path, impl, script):
    """cfg lines that route by script, a JavaScript KEMI script (app_jsdt;
    start with make=test_kemi.KemiKamailio, which drops the native
    request_route), written to tmp_path with "KSR.MOD" in it made impl's
    module (KSR.registrar, KSR.aor)."""
    js = tmp_path / ("%s.js" % impl)
    js.write_text(script.replace("KSR.MOD", "KSR." + MODULE[impl]))
    return 'modparam("app_jsdt", "load", "%s")\ncfgengine "jsdt"\n' % js


def each(pair, scenario):
    """scenario(k) on stock, then on aor: {impl: result}."""
    return {impl: scenario(pair[impl]) for impl in IMPLS}


def both(pair, scenario):
    """scenario(k, c) on stock, then on aor, c a new client of k (closed
    after): {impl: result}."""
    def run(k):
        with k.client() as c:
            return scenario(k, c)
    return each(pair, run)
