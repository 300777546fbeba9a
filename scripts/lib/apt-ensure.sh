# Sourced by the install scripts: apt_ensure LABEL REQUIRED... [-- OPTIONAL...]
# Installs, from the machine's Debian or Ubuntu packages, those of the named packages that are not
# installed yet (root, or sudo). Does nothing when all are there. A required package that cannot be
# installed is an error; an optional one is reported and skipped.
apt_ensure() {
  local label=$1 p sep=0
  shift
  local required=() optional=() missing=() sudo=()
  for p in "$@"; do
    if [ "$p" = -- ]; then sep=1; elif [ $sep = 0 ]; then required+=("$p"); else optional+=("$p"); fi
  done
  for p in "${required[@]}" "${optional[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "$label: all present (${required[*]}${optional[*]:+ ${optional[*]}})"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  echo "$label: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  # One call for the required ones (one dependency resolution), then each optional one alone.
  local need=() maybe=()
  for p in "${missing[@]}"; do
    case " ${optional[*]} " in *" $p "*) maybe+=("$p") ;; *) need+=("$p") ;; esac
  done
  if [ "${#need[@]}" -gt 0 ] && ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"; then
    echo "$label: could not install ${need[*]}" >&2
    return 1
  fi
  for p in "${maybe[@]}"; do
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" \
      || echo "$label: optional package $p is not available here; going on without it"
  done
}
