# Sourced by the workflow's inline scripts (Alfred runs them with /bin/zsh, without the user's
# shell startup files, so PATH is minimal): sets $node to a Node.js binary, or prints why none was
# found and returns 1.
#
#   source ./scripts/find-node.zsh json || exit 0   # a Script Filter: the message is an Alfred item
#   source ./scripts/find-node.zsh text || exit 0   # a Run Script: the message becomes a notification
#
# Order: the workflow's "Node path" (node_path), the node next to its "memery path", the node of
# npm's global prefix when it is set (NPM_CONFIG_PREFIX, `prefix=` in ~/.npmrc), the usual install
# locations (Homebrew /opt/homebrew and /usr/local, Volta, nvm, ~/.npm-global, asdf, mise, fnm),
# then PATH. `npm install -g memery` puts memery beside the node that ran npm (`npm prefix -g`/bin).

memery_report=${1:-text}
node=''

memery_json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/ }
  s=${s//$'\t'/ }
  print -rn -- "\"$s\""
}

memery_node_missing() {
  local title=$1 subtitle=$2
  if [[ $memery_report == json ]]; then
    print -r -- "{\"items\":[{\"title\":$(memery_json_string "$title"),\"subtitle\":$(memery_json_string "$subtitle"),\"valid\":false,\"icon\":{\"path\":\"icon.png\"}}]}"
  else
    print -r -- "$title: $subtitle"
  fi
}

if [[ -n ${node_path:-} ]]; then
  memery_np=${~node_path}
  if [[ -d $memery_np && -x $memery_np/node ]]; then
    node=$memery_np/node
  elif [[ -f $memery_np && -x $memery_np ]]; then
    node=$memery_np
  else
    memery_node_missing "Node.js not found at “$node_path”" "The workflow's “Node path” must name the node binary (e.g. /opt/homebrew/bin/node): fix it in Configure Workflow…"
    return 1
  fi
else
  memery_candidates=()
  if [[ -n ${memery_path:-} ]]; then
    memery_mp=${~memery_path}
    memery_candidates+=("${memery_mp:h}/node")
  fi
  # npm's global prefix, when set apart from node's own folder (memery's `memery` lives there)
  memery_prefixes=()
  [[ -n ${NPM_CONFIG_PREFIX:-} ]] && memery_prefixes+=(${~NPM_CONFIG_PREFIX})
  if [[ -r $HOME/.npmrc ]]; then
    for memery_line in ${(f)"$(<$HOME/.npmrc)"}; do
      if [[ $memery_line =~ '^[[:space:]]*prefix[[:space:]]*=[[:space:]]*(.*[^[:space:]])' ]]; then
        memery_prefixes+=(${~match[1]})
      fi
    done
  fi
  for memery_p in $memery_prefixes; do
    memery_candidates+=("$memery_p/bin/node")
  done
  memery_candidates+=(
    /opt/homebrew/bin/node
    /usr/local/bin/node
    "$HOME/.volta/bin/node"
    "$HOME"/.nvm/versions/node/*/bin/node(NnOn)
    "$HOME/.npm-global/bin/node"
    "$HOME/.asdf/shims/node"
    "$HOME/.local/share/mise/shims/node"
    "$HOME/.local/share/fnm/aliases/default/bin/node"
    "$HOME/Library/Application Support/fnm/aliases/default/bin/node"
    "$HOME/.fnm/aliases/default/bin/node"
    "$HOME/.local/bin/node"
    /usr/bin/node
  )
  for memery_c in $memery_candidates; do
    if [[ -f $memery_c && -x $memery_c ]]; then
      node=$memery_c
      break
    fi
  done
  if [[ -z $node ]] && (( $+commands[node] )); then
    node=$commands[node]
  fi
  if [[ -z $node ]]; then
    memery_node_missing "Node.js not found" "memery needs Node.js 20.19+: install it (brew install node), then npm install -g memery; or set “Node path” in Configure Workflow… to the output of “which node” (looked in /opt/homebrew/bin, /usr/local/bin, ~/.volta/bin, ~/.nvm, ~/.npm-global/bin, asdf, mise, fnm)"
    return 1
  fi
fi
return 0
