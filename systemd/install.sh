#!/usr/bin/env bash
# Install aitherd as a systemd service in one step, from this source tree, on Debian 12 or newer:
#
#   sudo systemd/install.sh [--extras train] [--user NAME]
#
# What it does (each step is skipped when already done, so running it again upgrades in place):
#   1. apt-get installs python3-venv and git if missing (Python 3.11 or newer is required);
#   2. a virtual environment in PREFIX/venv (/opt/aitherd/venv) with aitherd (and the extras) in it,
#      README.md beside it, aitherd and aitherctl linked into /usr/local/bin;
#   3. the aitherd system user and group (/etc/sysusers.d/aitherd.conf, systemd-sysusers);
#   4. /etc/aitherd/aitherd.toml (the commented defaults of etc/aitherd.toml), aitherd.env (secrets
#      such as a teacher's API key, read by the unit) and gitconfig (the repositories owned by
#      other users that git may read as aitherd), root:aitherd 0640; existing files are kept;
#   5. /etc/systemd/system/aitherd.service, checked with `aitherd --check-config` (as the aitherd
#      user) and `systemd-analyze verify`;
#   6. systemctl daemon-reload, enable --now (or restart when it already runs), systemctl status.
#
# Options:
#   --prefix DIR       where the venv and README go (default /opt/aitherd; the unit is rewritten)
#   --extras LIST      pip extras, e.g. train (the GPU box) or train,serve
#   --user NAME        add NAME to the aitherd group, so that aitherctl may use the control socket
#   --python PY        the interpreter that creates the venv (default python3)
#   --pip-args ARGS    extra arguments for pip install (e.g. "--no-index --find-links /srv/wheels")
#   --destdir DIR      stage every file under DIR instead of /: no apt, no users, nothing started.
#                      For packaging and tests (the venv is not relocatable: install for real
#                      without --destdir).
#   --no-start         install and enable, but do not start or restart the service
#   -n, --dry-run      print the commands instead of running them
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=/opt/aitherd destdir="" extras="" add_user="" python=python3 start=1 dry=0
pip_args=()

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*"; }
run() {
  if ((dry)); then printf '    %s\n' "$(printf '%q ' "$@")"; else "$@"; fi
}

while (($#)); do
  case $1 in
    --prefix) prefix=${2:?}; shift ;;
    --extras) extras=${2:?}; shift ;;
    --user) add_user=${2:?}; shift ;;
    --python) python=${2:?}; shift ;;
    --pip-args) read -r -a pip_args <<<"${2:?}"; shift ;;
    --destdir) destdir=${2:?}; shift ;;
    --no-start) start=0 ;;
    -n | --dry-run) dry=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ $prefix == /* ]] || die "--prefix must be an absolute path, got $prefix"
root=${destdir%/}
[[ -z $destdir || $root == /* ]] || root=$PWD/$root
venv=$prefix/venv
staged=$([ -n "$destdir" ] && echo 1 || echo 0)
[ -f "$src/pyproject.toml" ] && [ -f "$src/systemd/aitherd.service" ] || die "$src is not an aitherd source tree"

# 1. System packages ---------------------------------------------------------------------------
if ! ((staged)); then
  ((dry)) || [ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...), or stage with --destdir DIR"
  command -v systemctl >/dev/null || die "systemd is required (systemctl not found)"
  missing=()
  "$python" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v git >/dev/null || missing+=(git)
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
fi
((dry)) || "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$python is older than Python 3.11; aitherd needs 3.11 or newer (Debian 12 has it)"

# 2. The virtual environment -------------------------------------------------------------------
say "aitherd${extras:+[$extras]} into $venv"
[ -x "$root$venv/bin/python" ] || run "$python" -m venv "$root$venv"
run "$root$venv/bin/python" -m pip install --quiet --disable-pip-version-check ${pip_args[@]+"${pip_args[@]}"} \
  "$src${extras:+[$extras]}"
run install -D -m 0644 "$src/README.md" "$root$prefix/README.md"
run install -d -m 0755 "$root/usr/local/bin"
for tool in aitherd aitherctl; do
  run ln -sfn "$venv/bin/$tool" "$root/usr/local/bin/$tool"
done

# 3. User and group ----------------------------------------------------------------------------
say "the aitherd user and group"
run install -D -m 0644 "$src/systemd/aitherd.sysusers" "$root/etc/sysusers.d/aitherd.conf"
if ! ((staged)); then
  run systemd-sysusers /etc/sysusers.d/aitherd.conf
  [ -z "$add_user" ] || run usermod -a -G aitherd "$add_user"
fi
owner=()
((staged)) || owner=(-o root -g aitherd)

# 4. Configuration -----------------------------------------------------------------------------
say "configuration in /etc/aitherd"
run install -d -m 0750 ${owner[@]+"${owner[@]}"} "$root/etc/aitherd"
if [ -e "$root/etc/aitherd/aitherd.toml" ]; then
  say "keeping the existing /etc/aitherd/aitherd.toml"
else
  run install -m 0640 ${owner[@]+"${owner[@]}"} "$src/etc/aitherd.toml" "$root/etc/aitherd/aitherd.toml"
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat >"$scratch/aitherd.env" <<'EOF'
# Environment of the aitherd service (EnvironmentFile= of aitherd.service), root:aitherd 0640.
# Secrets go here, never in aitherd.toml: the TOML names the variable (api_key_env = "..."),
# this file sets it. Apply with `systemctl restart aitherd`.
#AITHERD_TEACHER_KEY=sk-...
#HF_TOKEN=hf_...
EOF
cat >"$scratch/gitconfig" <<'EOF'
# Git configuration of the aitherd service (GIT_CONFIG_GLOBAL in aitherd.service).
# Git refuses a repository owned by another user ("detected dubious ownership") unless it is
# listed here: add one line per watched repository of [[repos]] in aitherd.toml, e.g.
#   sudo git config --file /etc/aitherd/gitconfig --add safe.directory /home/alice/src/project
# The aitherd user also needs read access: sudo setfacl -R -m u:aitherd:rX /home/alice/src/project
# (and -m u:aitherd:x on each parent directory).
[safe]
EOF
for name in aitherd.env gitconfig; do
  [ -e "$root/etc/aitherd/$name" ] \
    || run install -m 0640 ${owner[@]+"${owner[@]}"} "$scratch/$name" "$root/etc/aitherd/$name"
done

# 5. The unit, checked -------------------------------------------------------------------------
say "the unit /etc/systemd/system/aitherd.service"
unit=$(sed "s|/opt/aitherd|$prefix|g" "$src/systemd/aitherd.service")
if ((dry)); then
  printf '    write the unit with /opt/aitherd replaced by %s\n' "$prefix"
else
  install -d -m 0755 "$root/etc/systemd/system"
  printf '%s\n' "$unit" >"$root/etc/systemd/system/aitherd.service"
  chmod 0644 "$root/etc/systemd/system/aitherd.service"
fi
as_service=()
((staged)) || as_service=(runuser -u aitherd --)
# From / like the service (so the repository this runs in is not taken as a watched one).
(cd / && run ${as_service[@]+"${as_service[@]}"} "$root$venv/bin/aitherd" --check-config \
  --config "$root/etc/aitherd/aitherd.toml")
if command -v systemd-analyze >/dev/null; then
  checked=$root/etc/systemd/system/aitherd.service
  if ((staged)) && ! ((dry)); then  # verify against this system's tools, with the staged aitherd
    checked=$scratch/aitherd.service
    sed "s|$prefix/|$root$prefix/|g" "$root/etc/systemd/system/aitherd.service" >"$checked"
  fi
  run systemd-analyze verify --man=no --recursive-errors=no "$checked"
fi

# 6. Running ------------------------------------------------------------------------------------
if ((staged)); then
  say "staged under $root"
  exit 0
fi
run systemctl daemon-reload
if ((start)); then
  if systemctl is-active --quiet aitherd 2>/dev/null; then
    say "restarting the running service on the new version"
    run systemctl enable aitherd
    run systemctl restart aitherd
  else
    say "enabling and starting aitherd (Type=notify: this waits for READY)"
    run systemctl enable --now aitherd
  fi
  run systemctl --no-pager status aitherd
else
  run systemctl enable aitherd
fi
say "done: aitherctl status; journalctl -u aitherd -f${add_user:+; $add_user must log in again to use aitherctl}"
