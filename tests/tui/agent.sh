#!/bin/bash
# The scripted agent of the TUI tests:  agent.sh AIRLOCK
# Prints "agent> " and reads one line at a time:
#   write FILE TEXT  writes TEXT to FILE (a change in the scratch)
#   turn N           writes turnN.txt, then asks for a checkpoint labelled
#                    "turn N" through agent.sock, as an agent's hook does
#   bell | osc9 | osc777
#                    writes FILE-NAME.txt, then prints BEL / OSC 9 / OSC 777
#                    (end-of-turn notifications)
#   busy N           writes busy.txt, then prints a line every 100 ms, N times,
#                    then writes busy-done.txt
#   lines N          prints "line 1" .. "line N"
#   size             prints "size: ROWS COLS" (stty size)
#   raw N            reads N bytes in raw mode and prints them in hex
#                    ("raw: 1d 61")
#   bpaste N         the same with bracketed paste (mode 2004) on
#   title TEXT       sets the terminal's title (OSC 2)
#   mouse on|off     asks for mouse reports (modes 1000 and 1006) or not
#   run CMD...       runs the rest of the line with sh -c
#   exit N [FILE]    writes FILE when given, then exits with status N
#   anything else    prints "got: LINE"
# A SIGWINCH prints "winch: ROWS COLS".
airlock=${1:?usage: agent.sh AIRLOCK}
# bash restarts a read that SIGWINCH interrupts and runs the trap only
# after it (and reads a terminal byte by byte, so a read -t would split
# lines): a helper in the background says when the size changes.
(
	trap 'echo; echo "winch: $(stty size </dev/tty)"; printf "agent> "' WINCH
	while kill -0 $$ 2>/dev/null; do sleep 0.05; done
) &
set -f  # the words of a line are no patterns
echo "agent ready"
while :; do
	printf 'agent> '
	IFS= read -r line || exit 0
	set -- $line
	case ${1:-} in
	write)
		printf '%s\n' "${3:-}" >"$2" && echo "wrote $2"
		;;
	turn)
		echo "turn $2" >"turn$2.txt"
		echo "working on turn $2"
		"$airlock" checkpoint -m "turn $2"
		;;
	bell)
		echo bell >bell.txt
		printf 'ding\a\n'
		;;
	osc9)
		echo osc9 >osc9.txt
		printf '\033]9;turn done\a'
		echo "notified 9"
		;;
	osc777)
		echo osc777 >osc777.txt
		printf '\033]777;notify;agent;turn done\033\\'
		echo "notified 777"
		;;
	busy)
		echo busy >busy.txt
		for i in $(seq "${2:-10}"); do
			echo "busy $i"
			sleep 0.1
		done
		echo done >busy-done.txt
		echo "busy done"
		;;
	lines)
		seq -f 'line %g' "${2:-10}"
		;;
	size)
		echo "size: $(stty size)"
		;;
	title)
		printf '\033]2;%s\007' "${line#title }"
		echo "title set"
		;;
	mouse)
		if [ "${2:-}" = on ]; then
			printf '\033[?1000h\033[?1006h'
		else
			printf '\033[?1006l\033[?1000l'
		fi
		echo "mouse $2"
		;;
	raw | bpaste)
		[ "$1" = bpaste ] && printf '\033[?2004h'
		saved=$(stty -g)
		stty raw -echo
		printf 'raw ready\r\n'
		hex=$(head -c "${2:-1}" | od -An -tx1 | tr -s ' \n' '  ')
		stty "$saved"
		[ "$1" = bpaste ] && printf '\033[?2004l'
		echo "raw:${hex% }"
		;;
	run)
		sh -c "${line#run }"
		;;
	exit)
		[ -n "${3:-}" ] && echo bye >"$3"
		exit "${2:-0}"
		;;
	*)
		echo "got: $line"
		;;
	esac
done
