#!/bin/sh
# Install what kamailio-aor needs to build, run and test, from Debian's packages.
# As root it runs apt-get itself; otherwise it prints the exact commands.
# Usage: tools/install-deps.sh [build|test|doc|deb|fuzz]
#   build  compile the module against Debian's kamailio
#   doc    render the DocBook documentation (make doc)
#   deb    build the Debian package (make deb)
#   fuzz   libFuzzer (clang) for the fuzz targets (make fuzz)
#   test   build + doc + deb + what the tests run
set -eu

level=${1:-build}
build_pkgs="kamailio kamailio-extra-modules kamailio-utils-modules dpkg-dev build-essential bison flex libxml2-dev pkg-config"
test_pkgs="sip-tester sipsak python3-pytest libxml2-utils valgrind baresip-core sipvicious"
# the modules Kamailio's misc/examples cfgs load (test_examples_cfg.py)
test_pkgs="$test_pkgs kamailio-mysql-modules kamailio-tls-modules kamailio-websocket-modules kamailio-presence-modules kamailio-xml-modules"
# the databases test_db.py and test_db_pg.py run (db_sqlite, and kamctl db
# show runs sqlite3; a private PostgreSQL server started by the test,
# db_postgres)
test_pkgs="$test_pkgs kamailio-sqlite-modules sqlite3 kamailio-postgres-modules postgresql"
# usrloc API consumers (test_ulapi_more.py): cplc; snmpstats, read through a
# private snmpd (AgentX master) with snmpwalk/snmpget
test_pkgs="$test_pkgs kamailio-cpl-modules kamailio-snmpstats-modules snmpd snmp"
# the charts beside the bench tables (bench/charts.py, test_charts.py):
# gnuplot without X, with the pngcairo terminal
test_pkgs="$test_pkgs gnuplot-nox"
# as Kamailio's doc/docbook: xsltproc, the DocBook DTD and stylesheets (with
# their XML catalog entries, so nothing is fetched), lynx for plain text
doc_pkgs="xsltproc docbook-xml docbook-xsl lynx"
deb_pkgs="debhelper lintian fakeroot"
fuzz_pkgs="clang libclang-rt-14-dev"
case $level in
	build) pkgs=$build_pkgs ;;
	doc) pkgs="$build_pkgs $doc_pkgs" ;;
	deb) pkgs="$build_pkgs $deb_pkgs" ;;
	fuzz) pkgs="$build_pkgs $fuzz_pkgs" ;;
	test) pkgs="$build_pkgs $doc_pkgs $deb_pkgs $test_pkgs" ;;
	*) echo "usage: $0 [build|test|doc|deb|fuzz]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
		|| missing="$missing $p"
done

# deb-src is needed for `apt-get source kamailio` (Debian 12 uses deb822 sources).
need_src=0
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	need_src=1
fi

[ -z "$missing" ] && [ $need_src = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "kamailio-aor: missing:$missing$( [ $need_src = 1 ] && echo ' deb-src entry')" >&2
	[ $need_src = 1 ] && echo "  run as root: sed -i 's/^Types: deb\$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources" >&2
	echo "  run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

if [ $need_src = 1 ]; then
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
	else
		grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
			> /etc/apt/sources.list.d/kamailio-aor-src.list
	fi
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ -n "$missing" ] && apt-get install -y -qq --no-install-recommends $missing
exit 0
