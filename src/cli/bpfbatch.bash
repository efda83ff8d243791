# bash completion for bpfbatch (installed as
# share/bash-completion/completions/bpfbatch). Completes commands, options
# and their values, map selectors (ids and names from `bpfbatch list -j`,
# pinned paths as files), and bpftool's element words.

_bpfbatch_map_field() {  # $1: id or name: that field of every map, from list -j
  local field=$1
  bpfbatch list -j 2>/dev/null | grep -oE "\"$field\":(\"[^\"]*\"|[0-9]+)" | sed -E "s/^\"$field\"://; s/\"//g"
}

# The long option a word names, whole or by a unique prefix as the tool
# takes it (--meth is --method), without its =VALUE; the word otherwise.
_bpfbatch_long_option() {
  local word=${1%%=*} option found=""
  [[ $word == --?* ]] || { printf '%s\n' "$1"; return; }
  for option in $2; do
    [ "$option" = "$word" ] && { printf '%s\n' "$word"; return; }
    [[ $option == "$word"* ]] && found="$found $option"
  done
  # shellcheck disable=SC2086
  set -- $found
  if [ $# -eq 1 ]; then printf '%s\n' "$1"; else printf '%s\n' "$word"; fi
}

_bpfbatch() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null; then
    _init_completion || return
  else
    cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
  fi

  local commands="dump drain load copy info list show demo help lookup update delete getnext peek push pop enqueue
    dequeue pin freeze create"
  local options="--json --pretty --bpffs --quiet --help --version --batch-size --method --threads --sum --count
    --no-btf --mode --drain --entries"

  # --opt=<TAB>: bash gives "=" as the previous word, the option before it.
  [ "$prev" = = ] && ((cword >= 2)) && prev=${words[cword - 2]}
  case $(_bpfbatch_long_option "$prev" "$options") in
    id) mapfile -t COMPREPLY < <(compgen -W "$(_bpfbatch_map_field id)" -- "$cur"); return ;;
    name) mapfile -t COMPREPLY < <(compgen -W "$(_bpfbatch_map_field name)" -- "$cur"); return ;;
    pinned) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
    --method) mapfile -t COMPREPLY < <(compgen -W "auto batch walk" -- "$cur"); return ;;
    --mode) mapfile -t COMPREPLY < <(compgen -W "any exist noexist" -- "$cur"); return ;;
    --threads) mapfile -t COMPREPLY < <(compgen -W "auto 1 2 4 8 16" -- "$cur"); return ;;
    --batch-size | --entries) return ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    return
  fi

  # The command: the first word that is not an option, nor the word "map"
  # before it, nor the value of an option that takes one (named by a
  # prefix too). After "--" every word is an operand: a map may be named map.
  local i command="" after=0 ended=0
  for ((i = 1; i < cword; i++)); do
    if ((ended == 0)); then
      case $(_bpfbatch_long_option "${words[i]}" "$options") in
        --) ended=1; continue ;;
        --batch-size | --method | --threads | --mode | --entries)
          # bash splits --opt=VALUE into three words (= is in COMP_WORDBREAKS).
          if [[ ${words[i]} == *=* ]]; then :; elif [ "${words[i + 1]:-}" = = ]; then ((i += 2)); else ((i++)); fi
          continue ;;
        -?*) continue ;;
      esac
    fi
    if [ -z "$command" ]; then
      if [ "${words[i]}" != map ] || ((ended)); then command=${words[i]}; fi
    else
      after=$((after + 1))
    fi
  done
  if [ -z "$command" ]; then
    mapfile -t COMPREPLY < <(compgen -W "map $commands" -- "$cur")
    return
  fi
  case $command in
    list | demo) return ;;
    show) ((after == 0)) && mapfile -t COMPREPLY < <(compgen -W "id pinned name" -- "$cur"); return ;;
    help) ((after == 0)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur"); return ;;
    create) ((after == 0)) && { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); }
      ((after > 0)) && mapfile -t COMPREPLY < <(compgen -W "type key value entries name flags inner_map" -- "$cur")
      return ;;
  esac
  # A map selector first (copy takes two), then the command's own words.
  if ((after == 0)) || { [ "$command" = copy ] && ((after == 2)); }; then
    mapfile -t COMPREPLY < <(compgen -W "id pinned name" -- "$cur")
    return
  fi
  case $command in
    load | pin) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    lookup | delete | getnext) mapfile -t COMPREPLY < <(compgen -W "key hex" -- "$cur") ;;
    update) mapfile -t COMPREPLY < <(compgen -W "key value hex any exist noexist" -- "$cur") ;;
    push | enqueue) mapfile -t COMPREPLY < <(compgen -W "value hex" -- "$cur") ;;
  esac
}
complete -F _bpfbatch bpfbatch
