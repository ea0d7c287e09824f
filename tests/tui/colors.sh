#!/bin/sh
# The colour test the TUI tests run as the agent and directly in tmux: 16,
# 256 and true colours, attributes, wide and combining characters. Ends
# with the line "colors: done" and then waits (for the capture).
e=$(printf '\033')
printf '16:'
for i in 0 1 2 3 4 5 6 7; do printf '%s[3%dm%d%s[9%dm%d' "$e" "$i" "$i" "$e" "$i" "$i"; done
printf '%s[0m bg:' "$e"
for i in 0 1 2 3 4 5 6 7; do printf '%s[4%dm %s[10%dm ' "$e" "$i" "$e" "$i"; done
printf '%s[0m\n' "$e"
i=16
while [ $i -lt 256 ]; do
	j=0
	while [ $j -lt 60 ] && [ $i -lt 256 ]; do
		printf '%s[38;5;%dm#' "$e" $i
		i=$((i + 1)) j=$((j + 1))
	done
	printf '%s[0m\n' "$e"
done
printf 'bg256:'
for i in 17 52 88 124 160 196 202 226 231 232 240 250 255; do printf '%s[48;5;%dm  ' "$e" "$i"; done
printf '%s[0m\n' "$e"
printf 'rgb:'
for v in 0 40 80 120 160 200 240; do
	printf '%s[38;2;%d;%d;%dmX%s[48;2;%d;%d;%dm ' "$e" "$v" $((255 - v)) 128 "$e" 20 "$v" $((v / 2))
done
printf '%s[0m\n' "$e"
printf 'attr: %s[1mbold%s[0m %s[2mdim%s[0m %s[3mitalic%s[0m %s[4munder%s[0m ' "$e" "$e" "$e" "$e" "$e" "$e" "$e" "$e"
printf '%s[7mreverse%s[0m %s[9mstrike%s[0m %s[1;4;31;42mall%s[0m %s[7;33mrev-yellow%s[0m\n' "$e" "$e" "$e" "$e" "$e" "$e" "$e" "$e"
printf 'wide: 漢字テスト|😀|한국어| combining: e\314\201 a\314\210 n\314\203|\n'
printf 'box: ┌─┬─┐ │ ├ ┼ ┤ └─┴─┘ λ→∀ ½\n'
printf '%s[44m%s[K bce line%s[0m\n' "$e" "$e" "$e"
printf 'colors: done\n'
exec sleep 3600
