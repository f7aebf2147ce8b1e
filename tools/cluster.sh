#!/bin/bash
# kamailio-aor: `make cluster` -- three nodes of etc/kamailio-cluster.cfg on
# one host, replicating their location tables over dmq, in the foreground
# until Ctrl-C (or SIGTERM), which stops all three.
#
# Environment (the Makefile sets it):
#   KAMAILIO, KAMCMD, AOR_SO, BUILD   the binaries, the module, build/
#   DBURL           db_text directory of the users   (text://.../etc/db)
#   CLUSTER_ADDR    the address every node listens on      (127.0.0.1)
#   CLUSTER_PORTS   three ports, one per node, UDP and TCP (5060 5062 5064)
#   CLUSTER_NET     where KDMQ may come from        (CLUSTER_ADDR/32)
#   CLUSTER_CFG     the config             (etc/kamailio-cluster.cfg)
#   CLUSTER_ARGS    more kamailio options for every node, e.g.
#                   "-A WITH_DEBUG" or "-A PIKE_DENSITY=64"
# Each node N (1..3) has its directory build/cluster/N/: its ctl socket
# (kamailio_ctl), snapshot file, runtime directory and log (kamailio.log).

set -u

KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
KAMCMD=${KAMCMD:-/usr/sbin/kamcmd}
BUILD=${BUILD:-$PWD/build}
AOR_SO=${AOR_SO:-$BUILD/aor.so}
DBURL=${DBURL:-text://$PWD/etc/db}
CLUSTER_ADDR=${CLUSTER_ADDR:-127.0.0.1}
CLUSTER_PORTS=${CLUSTER_PORTS:-5060 5062 5064}
CLUSTER_NET=${CLUSTER_NET:-$CLUSTER_ADDR/32}
CLUSTER_ARGS=${CLUSTER_ARGS:-}
CFG=${CLUSTER_CFG:-etc/kamailio-cluster.cfg}

read -r -a PORTS <<<"$CLUSTER_PORTS"
if [ "${#PORTS[@]}" -ne 3 ]; then
	echo "kamailio-aor: CLUSTER_PORTS must name three ports, not" \
		"'$CLUSTER_PORTS'" >&2
	exit 2
fi

# the -A defines of node $1 (1..3)
node_args() {
	local n=$1 i p peers=() dir=$BUILD/cluster/$1
	p=${PORTS[$((n - 1))]}
	for i in 0 1 2; do
		[ "$i" -eq $((n - 1)) ] || peers+=("${PORTS[$i]}")
	done
	ARGS=(-A "LISTEN=$CLUSTER_ADDR:$p"
		-A "AOR_SO=\"$AOR_SO\"" -A "DBURL=\"$DBURL\""
		-A "CTL_SOCK=\"unix:$dir/kamailio_ctl\""
		-A "SNAPSHOT=\"$dir/aor-snapshot.xml\""
		-A "DMQ_ADDR=\"sip:$CLUSTER_ADDR:$p\""
		-A "DMQ_PEER1=\"sip:$CLUSTER_ADDR:${peers[0]}\""
		-A "DMQ_PEER2=\"sip:$CLUSTER_ADDR:${peers[1]}\""
		-A "CLUSTER_NET=\"$CLUSTER_NET\"")
	# shellcheck disable=SC2206
	ARGS+=($CLUSTER_ARGS)
}

for n in 1 2 3; do
	mkdir -p "$BUILD/cluster/$n"
	node_args $n
	if ! "$KAMAILIO" -c -f $CFG "${ARGS[@]}" \
		>"$BUILD/cluster/$n/cfgcheck.log" 2>&1; then
		cat "$BUILD/cluster/$n/cfgcheck.log"
		echo "kamailio-aor: $CFG does not check for node $n" >&2
		exit 1
	fi
done

PIDS=()
stop() {
	trap - INT TERM EXIT
	local pid i
	[ "${#PIDS[@]}" -gt 0 ] || exit "${1:-0}"
	echo
	echo "kamailio-aor: stopping the cluster (pids ${PIDS[*]})"
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 50); do
		for pid in "${PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && break
			pid=
		done
		[ -z "$pid" ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	exit "${1:-0}"
}
trap 'stop 0' INT TERM
trap 'stop 1' EXIT

for n in 1 2 3; do
	dir=$BUILD/cluster/$n
	node_args $n
	"$KAMAILIO" -DD -E -f $CFG "${ARGS[@]}" -Y "$dir" \
		>"$dir/kamailio.log" 2>&1 </dev/null &
	PIDS+=($!)
done

# ready: each node answers kamcmd (bounded: 10 s)
for n in 1 2 3; do
	ok=
	for i in $(seq 100); do
		if ! kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null; then
			break
		fi
		if "$KAMCMD" -s "unix:$BUILD/cluster/$n/kamailio_ctl" core.uptime \
			>/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		tail -n 30 "$BUILD/cluster/$n/kamailio.log"
		echo "kamailio-aor: node $n did not start" \
			"($BUILD/cluster/$n/kamailio.log)" >&2
		stop 1
	fi
done

cat <<EOF

kamailio-aor: a cluster of three nodes with build/aor.so ($CFG)
  node 1  $CLUSTER_ADDR:${PORTS[0]}  pid ${PIDS[0]}  build/cluster/1/
  node 2  $CLUSTER_ADDR:${PORTS[1]}  pid ${PIDS[1]}  build/cluster/2/
  node 3  $CLUSTER_ADDR:${PORTS[2]}  pid ${PIDS[2]}  build/cluster/3/
  softphones: SIP server and domain $CLUSTER_ADDR, port of any node, UDP or TCP
              user alice  password alice-secret
              user bob    password bob-secret
              register alice at node 1 and bob at node 3, then call
              alice from bob: node 3 finds her binding, made at node 1
  bindings:   $KAMCMD -s unix:build/cluster/N/kamailio_ctl aor.list
  replication: $KAMCMD -s unix:build/cluster/N/kamailio_ctl aor.repl
              (peers, messages, last sync); dmq.list_nodes
  logs:       tail -f build/cluster/*/kamailio.log
  stop:       Ctrl-C (or kill ${PIDS[*]})

EOF

# until Ctrl-C, or until a node exits (then the others are stopped too)
while :; do
	for n in 1 2 3; do
		if ! kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null; then
			echo "kamailio-aor: node $n (pid ${PIDS[$((n - 1))]}) exited;" \
				"its log: build/cluster/$n/kamailio.log" >&2
			stop 1
		fi
	done
	# a wait on a background sleep: a signal runs its trap at once
	sleep 1 &
	wait $!
done
