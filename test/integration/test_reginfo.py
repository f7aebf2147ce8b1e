"""kamcmd aor.reginfo: an AoR's bindings as an RFC 3680 document.

The document is validated offline against the RFC 3680 section 5.4 schema
(reginfo.xsd beside this file, importing the local xml.xsd) with xmllint,
then read with xml.etree for the values of each contact.
"""

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from checks import assert_ok
from kam import KamcmdError

HERE = os.path.dirname(os.path.abspath(__file__))
XSD = os.path.join(HERE, "reginfo.xsd")
NS = "{urn:ietf:params:xml:ns:reginfo}"
EXT = "{urn:x-kamailio-aor:params:xml:ns:binding}"
INSTANCE = '"<urn:uuid:0c1d2e3f-0000-1000-8000-00a0c91e6bf6>"'


@pytest.fixture(autouse=True)
def aor_only(kam):
    if kam.impl == "stock":
        pytest.fail("aor.reginfo does not exist in the stock modules")


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def xmllint_validate(tmp_path, doc):
    """xmllint's verdict on doc against reginfo.xsd, without network."""
    xmllint = shutil.which("xmllint")
    assert xmllint, "xmllint missing (libxml2-utils, tools/install-deps.sh)"
    path = tmp_path / "reginfo.xml"
    path.write_text(doc)
    r = subprocess.run([xmllint, "--nonet", "--noout", "--schema", XSD,
                        str(path)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, "%s\n%s\n%s" % (r.stdout, r.stderr, doc)


def reginfo(kam, *args):
    """The document aor.reginfo prints (kamcmd prints the one string)."""
    out = kam.kamcmd("aor.reginfo", *args)
    start = out.find("<?xml")
    assert start >= 0, out
    return out[start:].rstrip("\n") + "\n"


def register_two(kam, client, user):
    aor = kam.aor(user)
    r = client.register(aor, [
        (ct(user, 5201), {"q": "0.5", "+sip.instance": INSTANCE,
                          "reg-id": "1"}),
        ct(user, 5202)], expires=600, call_id="reginfo-" + user, cseq=11)
    assert_ok(r)
    return aor


def test_reginfo_is_valid_rfc3680_with_each_contact(kam, client, user,
                                                     tmp_path):
    """Two bindings, one with q and +sip.instance: the document validates
    against the RFC 3680 schema and carries each contact's uri, expires, q,
    callid, cseq and instance."""
    aor = register_two(kam, client, user)
    doc = reginfo(kam, "sip:%s@127.0.0.1" % user)
    xmllint_validate(tmp_path, doc)

    root = ET.fromstring(doc.encode())
    assert root.tag == NS + "reginfo"
    assert root.get("state") == "full"
    assert int(root.get("version")) >= 0
    regs = root.findall(NS + "registration")
    assert len(regs) == 1
    reg = regs[0]
    assert reg.get("aor") == "sip:" + kam.aor_key(aor)
    assert reg.get("state") == "active"
    contacts = {c.find(NS + "uri").text: c
                for c in reg.findall(NS + "contact")}
    assert sorted(contacts) == [ct(user, 5201), ct(user, 5202)], doc
    for c in contacts.values():
        assert c.get("state") == "active"
        assert c.get("event") == "registered"
        assert 598 <= int(c.get("expires")) <= 600
        assert c.get("callid") == "reginfo-" + user
        assert int(c.get("cseq")) == 11
    ids = [c.get("id") for c in contacts.values()]
    assert len(set(ids)) == 2, ids

    first, second = contacts[ct(user, 5201)], contacts[ct(user, 5202)]
    assert float(first.get("q")) == pytest.approx(0.5)
    assert second.get("q") is None  # no q given, none invented
    params = {p.get("name"): p.text
              for p in first.findall(NS + "unknown-param")}
    # the value as the binding stores it: RFC 3261's quoted-string form
    # when the store keeps the quotes, the bare <urn> when it strips them
    assert (params.get("+sip.instance") or "").strip('"') == \
        INSTANCE.strip('"'), doc
    assert params.get("reg-id") == "1", doc
    assert not second.findall(NS + "unknown-param")
    # what RFC 3680 has no attribute for, in the extension namespace
    assert first.find(EXT + "user-agent").text == "aor-integration-test"


def test_reginfo_escapes_xml_specials_in_values(kam, client, user,
                                                 tmp_path):
    """A Call-ID and a contact parameter with < > & ' " characters stay well
    formed and come back unchanged."""
    aor = kam.aor(user)
    call_id = "a&b'c<d>\"e-" + user
    uri = ct(user, 5203)
    r = client.register(aor, ["<%s;x=a&b>" % uri], expires=300,
                        call_id=call_id)
    assert_ok(r)
    doc = reginfo(kam, kam.aor_key(aor))
    xmllint_validate(tmp_path, doc)
    contact = ET.fromstring(doc.encode()).find(NS + "registration/" +
                                               NS + "contact")
    assert contact.get("callid") == call_id
    assert contact.find(NS + "uri").text == uri + ";x=a&b"


def test_reginfo_accepts_the_table_argument(kam, client, user):
    """aor.reginfo AOR location == aor.reginfo AOR."""
    aor = register_two(kam, client, user)
    key = kam.aor_key(aor)
    assert reginfo(kam, key, "location") == reginfo(kam, key)


def test_reginfo_of_unknown_aor_is_fault_404(kam, user):
    with pytest.raises(KamcmdError) as e:
        kam.kamcmd("aor.reginfo", "sip:%s@127.0.0.1" % user)
    assert e.value.code == 404, e.value


def test_reginfo_after_unregister_is_fault_404(kam, client, user):
    """An AoR whose bindings are gone has no document (404, not init)."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5204)], expires=300))
    assert_ok(client.register(aor, ["*"], expires=0))
    with pytest.raises(KamcmdError) as e:
        kam.kamcmd("aor.reginfo", kam.aor_key(aor))
    assert e.value.code == 404, e.value


def test_reginfo_without_argument_is_fault_400(kam):
    with pytest.raises(KamcmdError) as e:
        kam.kamcmd("aor.reginfo")
    assert e.value.code == 400, e.value


def test_reginfo_of_unknown_table_is_fault_404(kam, client, user):
    aor = register_two(kam, client, user)
    with pytest.raises(KamcmdError) as e:
        kam.kamcmd("aor.reginfo", kam.aor_key(aor), "nosuchtable")
    assert e.value.code == 404, e.value
    assert "table" in (e.value.out + e.value.err).lower()


def test_reginfo_of_overlong_aor_is_fault_400(kam, user):
    """An AoR argument longer than any key is refused, not copied."""
    with pytest.raises(KamcmdError) as e:
        kam.kamcmd("aor.reginfo", "sip:%s%s@127.0.0.1" % (user, "x" * 3000))
    assert e.value.code == 400, e.value
