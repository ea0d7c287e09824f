#!/bin/bash
# Programs inside airlock look as they do directly in tmux: a colour test
# (16, 256 and true colours, attributes, wide and combining characters),
# vim and less, each compared cell by cell (text, colours, attributes) and
# by cursor with the same program run directly in tmux at the size of
# airlock's agent pane, after the same keys.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
new_world
cd "$T" || exit 1

# The agent's TERM and COLORTERM, which the reference gets too.
check "the agent's terminal variables" ref_env_like_agent
TUI_ENV=(LESSHISTFILE=-)

colors=$(tui_script colors.sh)
tui_airlock 100 30 --name colors -- "$colors"
check "the colour test runs in airlock" tui_wait_for '^colors: done'
ref_like_agent "$colors"
check "the colour test runs directly" ref_wait_for '^colors: done'
CELLS_IGNORE=dim,strike compare_screens \
	"the colour test looks as it does in tmux (colours, attributes, wide chars; dim and strike aside)"
# Two attributes do not make it through yet: libvterm 0.1.4 has no faint
# (SGR 2 is dropped) and ncurses no strikethrough. TODO until they do (an
# unexpected pass fails CI, to take the TODO out).
todo() {  # todo DESC WHY: passes when the screens are the same
	tap_n=$((tap_n + 1))
	if [ -z "$(screens_differ)" ]; then
		printf 'ok %d - %s # TODO %s\n' "$tap_n" "$1" "$2"
	else
		printf 'not ok %d - %s # TODO %s\n' "$tap_n" "$1" "$2"
	fi
}
CELLS_IGNORE=strike todo "dim text (SGR 2) stays dim" "libvterm 0.1.4 drops SGR 2"
CELLS_IGNORE=dim todo "struck-through text (SGR 9) stays so" "ncurses has no strikethrough attribute"
tui_kill
ref_kill

# vim, without any vimrc, on a file with long lines, tabs and wide chars.
vim=$(command -v vim || command -v vim.tiny || command -v vi)
{
	for i in $(seq 1 40); do
		case $i in
		3) printf 'a long line that wraps %s\n' "$(seq -s ' ' 1 40)" ;;
		5) printf '\tindented\twith\ttabs\n' ;;
		7) printf 'wide: 漢字テスト and é\n' ;;
		*) printf 'line %d of the poem, two words\n' "$i" ;;
		esac
	done
} >poem.txt
vimcmd=(sh -c '"$0" -u NONE -i NONE -n -N -c "set nu hls ruler laststatus=2" poem.txt; echo "vim exited $?"; exec sleep 3600' "$vim")
tui_airlock 80 24 --name vim -- "${vimcmd[@]}"
ref_like_agent "${vimcmd[@]}"
both_wait_for 'poem.txt'
compare_screens "vim's first screen looks as it does in tmux"
both_type "/two"
both_keys Enter
both_wait_for '^ *8 line 8'
compare_screens "vim: a search with highlighting"
both_type "Gofresh line 漢字 at the end"
both_keys Escape
both_wait_for 'fresh line'
compare_screens "vim: inserting at the end (scrolls)"
both_type ":split"
both_keys Enter
both_type "gg"
compare_screens "vim: a split window (two status lines)"
both_type ":q!"
both_keys Enter
both_type ":q!"
both_keys Enter
both_wait_for '^vim exited 0'
compare_screens "vim exits: the screen before it is back (alternate screen)"
tui_kill
ref_kill

# less -R over coloured text.
{
	for i in $(seq 1 200); do
		if [ $((i % 10)) = 0 ]; then
			printf '\033[1;32mline %d\033[0m in \033[4mgreen\033[0m\n' "$i"
		else
			printf 'line %d of the log\n' "$i"
		fi
	done
} >log.txt
lesscmd=(sh -c 'less -R log.txt; echo "less exited $?"; exec sleep 3600')
tui_airlock 80 24 --name less -- "${lesscmd[@]}"
ref_like_agent "${lesscmd[@]}"
both_wait_for '^line 20 in green'
compare_screens "less's first screen looks as it does in tmux"
both_keys Space
both_wait_for '^line 40 in green'
compare_screens "less: the next page"
both_type "/line 77"
both_keys Enter
both_wait_for '^line 77 of the log'
compare_screens "less: a search (highlighted)"
both_keys G
both_wait_for '^line 200 in green'
compare_screens "less: the end"
both_keys q
both_wait_for '^less exited 0'
compare_screens "less exits: the screen before it is back"

finish
