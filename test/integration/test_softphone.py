"""A real softphone through etc/kamailio.cfg: two baresip instances.

alice and bob (baresip-core, see baresip.py) register with digest
authentication to the config `make run` starts (the kam_cfg fixture), alice
calls bob, bob answers, alice hangs up, both quit. Verdicts come from
baresip's ctrl_tcp events and replies and from `kamcmd aor.list`:
  - both bindings are listed while registered, none after they quit
    (baresip unregisters on quit: Expires 0, RFC 3261 10.2.2);
  - alice's CALL_RINGING is the 180 bob sent, relayed by lookup() and tm;
  - alice's CALL_ESTABLISHED is the 200 OK; bob's CALL_ESTABLISHED is the
    ACK arriving (libre's sipsess establishes the UAS side on the ACK), the
    ACK routed by the Record-Route the proxy added (RFC 3261 16.6 step 4);
  - bob's CALL_CLOSED is alice's BYE, routed the same way.
"""

import kam as kammod
import sip

REG_TIMEOUT = 5.0


def listed(kam):
    """aor.list as {aor: [contact URI, ...]}, one page (fewer than the
    default page size here)."""
    tree = kammod.parse_rpc(kam.kamcmd("aor.list"))
    out = {}
    for st in kammod.rpc_structs(tree):
        names = [v for k, v in st if k == "aor" and isinstance(v, str)]
        if names:
            out[names[0]] = kammod.rpc_find([st], "contact")
    return out


def bound_at(contacts, phone):
    """Whether one of contacts is at the phone's SIP address."""
    where = "127.0.0.1:%d" % phone.sip_port
    return any(sip.uri_user_host(c.strip("<>"))[1] == where
               for c in contacts)


def test_two_baresips_register_call_hang_up_and_unregister(kam_cfg,
                                                          baresip_factory):
    """Two softphones register with digest auth, set up a call through
    the proxy (180, 200, ACK), hang up (BYE), and unregister on quit."""
    alice = baresip_factory("alice", "alice-secret", kam_cfg.port)
    bob = baresip_factory("bob", "bob-secret", kam_cfg.port)

    def both_registered():
        now = listed(kam_cfg)
        if (bound_at(now.get("alice", []), alice)
                and bound_at(now.get("bob", []), bob)):
            return now
        return None
    now = sip.wait_until(both_registered, REG_TIMEOUT, interval=0.05)
    assert now, "aor.list never showed both bindings: %s" % listed(kam_cfg)

    alice.command("dial", "sip:bob@127.0.0.1:%d" % kam_cfg.port)
    incoming = bob.wait_event("CALL_INCOMING")
    assert incoming["peeruri"].startswith("sip:alice@127.0.0.1"), incoming
    ringing = alice.wait_event("CALL_RINGING")
    assert ringing["id"] == incoming["id"], (ringing, incoming)

    bob.command("accept")
    answered = alice.wait_event("CALL_ESTABLISHED")
    acked = bob.wait_event("CALL_ESTABLISHED")
    assert answered["id"] == acked["id"] == incoming["id"]

    alice.command("hangup")
    alice.wait_event("CALL_CLOSED")
    closed = bob.wait_event("CALL_CLOSED")
    assert closed["id"] == incoming["id"]

    assert alice.quit() == 0
    assert bob.quit() == 0
    gone = sip.wait_until(lambda: not {"alice", "bob"} & set(listed(kam_cfg)),
                          REG_TIMEOUT, interval=0.05)
    assert gone, "bindings left after unregistering: %s" % listed(kam_cfg)
