"""Builders of real OSTree sysroots in a directory, made with the `ostree` CLI.

Every builder runs the real `ostree` binary of the machine against a plain directory, so what the
tests see is what ostree really writes: deployment roots are `chattr +i`, objects are hard-linked
between the repo and the deployments (the repo is in `bare` mode), and the deployment refs
`ostree/B/S/N` keep the live deployments' commits alive.

Three shapes are offered:

- `deployed_sysroot`: os `testos` with one or more deployments and nothing to clean.
- `needs_cleanup_sysroot`: the cheap stand-in for the staged case, no root needed beyond what
  ostree itself needs. Three commits on one branch are deployed in turn, the third with
  `ostree admin deploy --no-prune`: ostree drops the oldest deployment (its directory, its boot
  directory, its deployment ref) but leaves its objects in the repo, exactly like
  `ostree admin finalize-staged` does. Checked against the staged fixture: `ostree admin cleanup`
  and a refs-only prune with depth 0 free the same objects on both.
- `staged_sysroot`: the real case. A deployment is staged from inside a faked booted system
  (`unshare -m -p -f`, bind mounts, `/run/ostree-booted`, `chroot`) and then finalized with
  `ostree admin finalize-staged`. Needs root and working mount and pid namespaces; call
  `staging_unavailable()` first to get a skip reason. `run_booted` runs any script in such a
  faked booted system.

The payload knobs (`n_files` unique files per version, `shared_files` files identical in every
version, `file_size`) set the object count: each unique file is one content object, every 256
files add a directory (one dirtree object per version). A version with `n_files=N` adds `N`
objects plus about a dozen (dirtrees, dirmeta, commit, kernel, initramfs, os-release), so three
versions of 16,600 files make a repo of about 50,000 objects of which the oldest version's are
prunable.

Sysroots hold immutable directories: remove them with `remove_tree`, never plain `shutil.rmtree`.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OSNAME = "testos"
BRANCH = "testos/stable"
KERNEL_VERSION = "6.1.0-test"
FILES_PER_DIR = 256

# Top-level entries a deployment root needs so that it can be chroot'ed into with the host's
# /usr bind-mounted over its own: deployment roots are immutable, so the mount points and the
# merged-/usr symlinks have to be in the committed tree itself.
_ROOT_DIRS = ("boot", "dev", "proc", "run", "sys", "sysroot", "tmp", "var", "usr/etc")
_ROOT_LINKS = {
    "bin": "usr/bin",
    "lib": "usr/lib",
    "lib64": "usr/lib64",
    "sbin": "usr/sbin",
    "ostree": "sysroot/ostree",
}


@dataclass(frozen=True)
class Sysroot:
    """A sysroot on disk. `path` is what `--sysroot=` takes; `boot` is its /boot."""

    path: Path
    osname: str = OSNAME

    @property
    def repo(self) -> Path:
        return self.path / "ostree" / "repo"

    @property
    def boot(self) -> Path:
        return self.path / "boot"

    @property
    def deploy_dir(self) -> Path:
        return self.path / "ostree" / "deploy" / self.osname / "deploy"

    @property
    def var(self) -> Path:
        return self.path / "ostree" / "deploy" / self.osname / "var"


@dataclass(frozen=True)
class RepoUsage:
    """Objects in a repo: how many files under objects/ and the sum of their sizes in bytes."""

    objects: int
    bytes: int


def ostree(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real `ostree` CLI; raises CalledProcessError with its stderr when it fails."""
    result = subprocess.run(["ostree", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, result.args, result.stdout, result.stderr
        )
    return result


def write_tree(
    dest: Path,
    version: str,
    n_files: int = 16,
    shared_files: int = 0,
    file_size: int = 64,
    seed: int = 0,
) -> Path:
    """Write an OS tree that `ostree admin deploy` accepts into `dest` (which must not exist).

    Guarantees: usr/lib/os-release names `testos` and `version`; a non-empty kernel and initramfs
    under usr/lib/modules/KERNEL_VERSION/ whose content depends on `version` (so each version gets
    its own boot directory, like a kernel update); `n_files` payload files under
    usr/share/payload/v/ whose content is unique to (`version`, `seed`); `shared_files` files under
    usr/share/payload/shared/ that are identical for every version of the same seed. Content is
    deterministic for given arguments.
    """
    dest.mkdir(parents=True)
    for d in _ROOT_DIRS:
        (dest / d).mkdir(parents=True, exist_ok=True)
    for name, target in _ROOT_LINKS.items():
        os.symlink(target, dest / name)
    (dest / "usr/lib").mkdir(parents=True, exist_ok=True)
    (dest / "usr/lib/os-release").write_text(f'ID={OSNAME}\nNAME="Test OS"\nVERSION_ID={version}\n')
    modules = dest / "usr/lib/modules" / KERNEL_VERSION
    modules.mkdir(parents=True)
    (modules / "vmlinuz").write_text(f"kernel {version}\n")
    (modules / "initramfs.img").write_text(f"initramfs {version}\n")
    _write_payload(dest / "usr/share/payload/v", n_files, file_size, f"{seed}:{version}")
    _write_payload(dest / "usr/share/payload/shared", shared_files, file_size, f"{seed}:shared")
    return dest


def _write_payload(base: Path, count: int, size: int, key: str) -> None:
    rng = random.Random(key)
    for i in range(count):
        d = base / f"{i // FILES_PER_DIR:04d}"
        if i % FILES_PER_DIR == 0:
            d.mkdir(parents=True, exist_ok=True)
        # The index in the content keeps every file a distinct object even for tiny sizes.
        head = f"{key}:{i}\n".encode()
        body = rng.getrandbits(8 * max(size - len(head), 0)).to_bytes(
            max(size - len(head), 0), "little"
        )
        (d / f"f{i:06d}").write_bytes(head + body)


def commit_tree(repo: Path, branch: str, tree: Path, subject: str = "") -> str:
    """Commit `tree` onto `branch` (its parent is the branch's previous commit); returns the
    commit checksum."""
    args = ["--repo=" + str(repo), "commit", "--branch=" + branch, "--tree=dir=" + str(tree)]
    if subject:
        args.append("--subject=" + subject)
    return ostree(*args).stdout.strip()


def init_sysroot(path: Path, osname: str = OSNAME) -> Sysroot:
    """`ostree admin init-fs` + `os-init` at `path` (created if missing); no deployment yet."""
    path.mkdir(parents=True, exist_ok=True)
    ostree("admin", "init-fs", str(path))
    ostree("admin", "os-init", "--sysroot=" + str(path), osname)
    return Sysroot(path, osname)


def deploy(sysroot: Sysroot, ref: str, *extra: str) -> None:
    """`ostree admin deploy` of `ref` with extra options (e.g. `--retain`, `--no-prune`)."""
    ostree(
        "admin", "deploy", "--sysroot=" + str(sysroot.path), "--os=" + sysroot.osname, *extra, ref
    )


def _build_version(
    sysroot: Sysroot,
    work: Path,
    version: str,
    n_files: int,
    shared_files: int,
    file_size: int,
    seed: int,
) -> str:
    tree = write_tree(work / f"tree-{version}", version, n_files, shared_files, file_size, seed)
    try:
        return commit_tree(sysroot.repo, BRANCH, tree, subject=f"testos {version}")
    finally:
        shutil.rmtree(tree)


def deployed_sysroot(
    path: Path,
    versions: int = 1,
    n_files: int = 16,
    shared_files: int = 0,
    file_size: int = 64,
    seed: int = 0,
) -> Sysroot:
    """A sysroot with `versions` deployments of os `testos` (all retained) and nothing to prune.

    Guarantees: `ostree admin status` lists `versions` deployments, newest first; the repo holds
    exactly the objects of those deployments (an `ostree admin cleanup` frees nothing); commits
    are chained on BRANCH. Scratch trees are written next to `path` and removed.
    """
    sysroot = init_sysroot(path)
    work = _scratch_dir(path)
    try:
        for v in range(1, versions + 1):
            _build_version(sysroot, work, str(v), n_files, shared_files, file_size, seed)
            deploy(sysroot, BRANCH, "--retain")
    finally:
        shutil.rmtree(work)
    return sysroot


def needs_cleanup_sysroot(
    path: Path,
    n_files: int = 16,
    shared_files: int = 0,
    file_size: int = 64,
    seed: int = 0,
) -> Sysroot:
    """A sysroot whose repo holds the objects of a removed deployment, without staging.

    Versions 1 and 2 are deployed normally, version 3 with `--no-prune`: ostree removes the
    deployment of version 1 (directory, boot directory, deployment ref) and keeps its objects.
    Guarantees: two deployments (3 then 2); the repo holds the objects that only version 1 used
    (`n_files` plus about a dozen); its commit is still the parent of version 2's commit on
    BRANCH, so only a depth-0 traversal, which is what `ostree admin cleanup` does, frees them;
    an `ostree admin cleanup` frees exactly those objects.
    """
    sysroot = init_sysroot(path)
    work = _scratch_dir(path)
    try:
        for v in (1, 2, 3):
            _build_version(sysroot, work, str(v), n_files, shared_files, file_size, seed)
            deploy(sysroot, BRANCH, *(["--no-prune"] if v == 3 else []))
    finally:
        shutil.rmtree(work)
    return sysroot


def staging_unavailable() -> str | None:
    """None when `staged_sysroot` can run here, else a sentence saying why it cannot."""
    if os.geteuid() != 0:
        return "staging a deployment needs root (bind mounts, chroot)"
    for tool in ("unshare", "chroot", "mount", "ostree"):
        if shutil.which(tool) is None:
            return f"staging a deployment needs `{tool}`, which is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "-p", "-f", "--propagation", "private", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return (
            "mount and pid namespaces are not available here (unshare -m -p -f failed: "
            + probe.stderr.strip()
            + ")"
        )
    return None


# Mounts that make deployment $D look like the booted system: ostree refuses to stage unless it
# sees /run/ostree-booted and a root that is a deployment of the sysroot. The pid namespace
# matters: the fresh /proc must belong to it. ostree 2025.2 and later run `systemctl start
# ostree-finalize-staged.service` when they stage (they dropped the path unit); no manager runs
# here, so a stand-in on PATH inside $D accepts exactly that call and logs it to
# /run/oac-test-bin/calls, and the scripts finalize with `ostree admin finalize-staged`
# themselves, as that unit would at shutdown. Then the caller's script runs with $D, $SR, $OS.
_BOOTED_PRELUDE = r"""
D=$1; SR=$2; OS=$3; SCRIPT=$4; shift 4
mount --bind /usr "$D/usr"
mount --bind "$SR" "$D/sysroot"
mount --bind "$SR/boot" "$D/boot"
mount --bind "$SR/ostree/deploy/$OS/var" "$D/var"
mount --bind /dev "$D/dev"
mount -t tmpfs tmpfs "$D/run"
touch "$D/run/ostree-booted"
mkdir "$D/run/oac-test-bin"
printf '%s\n' '#!/bin/sh' \
    '[ "$*" = "start ostree-finalize-staged.service" ] || { echo "systemctl $*?" >&2; exit 1; }' \
    'echo "$*" >> /run/oac-test-bin/calls' > "$D/run/oac-test-bin/systemctl"
chmod 755 "$D/run/oac-test-bin/systemctl"
export PATH="/run/oac-test-bin:$PATH"
mount -t proc proc "$D/proc"
export D SR OS
eval "$SCRIPT"
"""


def run_booted(
    sysroot: Sysroot, booted: str, script: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the shell `script` (`sh -e`) with deployment `booted` (a commit checksum) set up as
    the booted system, for commands like `chroot "$D" ostree admin deploy --stage ...`.

    Inside, $D is the deployment directory (host /usr, the sysroot, its boot and var, /dev, a
    fresh /proc and a tmpfs /run with /run/ostree-booted are mounted into it), $SR the sysroot,
    $OS the os name, "$@" the extra `args`. Everything runs in a new mount and pid namespace
    that dies with the script, so no mount outlives it and the host is untouched; a staged
    deployment that is not finalized within the same script is lost with its /run. Does not
    raise: check `.returncode`. Needs root (see `staging_unavailable()`).
    """
    booted_dir = deployment_dir(sysroot, booted)
    return subprocess.run(
        [
            "unshare",
            "-m",
            "-p",
            "-f",
            "--propagation",
            "private",
            "sh",
            "-ec",
            _BOOTED_PRELUDE,
            "sh",
            str(booted_dir),
            str(sysroot.path),
            sysroot.osname,
            script,
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def staged_sysroot(
    path: Path,
    n_files: int = 16,
    shared_files: int = 0,
    file_size: int = 64,
    seed: int = 0,
) -> Sysroot:
    """The case this project exists for: a staged deployment finalized, repo not pruned.

    Versions 1 and 2 are deployed; with version 2 "booted" (faked, see the module docstring),
    version 3 is staged with `ostree admin deploy --stage` and finalized with
    `ostree admin finalize-staged`. Guarantees: two deployments (3, then 2); version 1's
    deployment is gone but its objects (`n_files` plus about a dozen) are still in the repo, and
    `ostree admin cleanup` frees exactly those. All mounts live in a namespace that dies with
    the command, so nothing stays mounted. Needs root: check `staging_unavailable()` first.
    """
    reason = staging_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    sysroot = init_sysroot(path)
    work = _scratch_dir(path)
    try:
        booted = ""
        for v in (1, 2, 3):
            csum = _build_version(sysroot, work, str(v), n_files, shared_files, file_size, seed)
            if v < 3:
                deploy(sysroot, BRANCH)
                booted = csum
    finally:
        shutil.rmtree(work)
    result = run_booted(
        sysroot,
        booted,
        'chroot "$D" ostree admin deploy --stage --os="$OS" "$1"\n'
        'chroot "$D" ostree admin finalize-staged',
        BRANCH,
    )
    if result.returncode != 0:
        raise RuntimeError("staging and finalizing failed: " + result.stderr.strip())
    return sysroot


def deployment_dir(sysroot: Sysroot, checksum: str) -> Path:
    """The deployment directory (`CHECKSUM.SERIAL`) of a deployed commit; the lowest serial."""
    matches = sorted(
        p for p in sysroot.deploy_dir.glob(checksum + ".*") if not p.name.endswith(".origin")
    )
    if not matches:
        raise FileNotFoundError(f"no deployment of {checksum} in {sysroot.deploy_dir}")
    return matches[0]


def deployment_commits(sysroot: Sysroot) -> list[str]:
    """Checksums of every deployment directory on disk (the truth, whatever the refs say)."""
    return sorted(
        p.name.split(".")[0] for p in sysroot.deploy_dir.iterdir() if not p.name.endswith(".origin")
    )


def refs(repo: Path) -> dict[str, str]:
    """Every ref of the repo (`ostree refs`) mapped to its commit."""
    names = [r for r in ostree("refs", "--repo=" + str(repo)).stdout.split() if r]
    return {name: ostree("rev-parse", "--repo=" + str(repo), name).stdout.strip() for name in names}


def commit_exists(repo: Path, checksum: str) -> bool:
    """True when the commit object is in the repo (`ostree show` succeeds)."""
    return ostree("show", "--repo=" + str(repo), checksum, check=False).returncode == 0


def fsck(repo: Path) -> subprocess.CompletedProcess[str]:
    """`ostree fsck` of the repo, not raising: check `.returncode` (0 means consistent)."""
    return ostree("fsck", "--repo=" + str(repo), check=False)


def repo_usage(repo: Path) -> RepoUsage:
    """Count the files under `repo/objects` and sum their sizes (lstat, apparent bytes).

    Objects hard-linked into deployments are counted once here, like ostree's own prune
    accounting; this is what a prune can remove from the repo.
    """
    count = 0
    total = 0
    objects = repo / "objects"
    for sub in os.scandir(objects):
        if not sub.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(sub.path):
            count += 1
            total += entry.stat(follow_symlinks=False).st_size
    return RepoUsage(count, total)


def copy_sysroot(src: Sysroot, dest: Path) -> Sysroot:
    """An identical copy (`cp -a`: hard links between repo and deployments, modes, times and
    xattrs preserved) at `dest`, which must not exist. Immutable flags are not copied."""
    subprocess.run(["cp", "-a", str(src.path), str(dest)], check=True)
    return Sysroot(dest, src.osname)


def remove_tree(path: Path) -> None:
    """Remove `path` even when it holds `chattr +i` deployment roots; missing path is fine.

    Clears the immutable flag recursively first (`chattr -R -f -i`: errors on symlinks and
    special files, which cannot carry the flag, are expected and ignored), then deletes. Raises
    when something is still left, so a test never silently leaks a sysroot.

    Refuses (RuntimeError, nothing deleted) while anything is mounted at or under `path`: a
    leftover bind mount of /dev or /usr from a staging namespace would otherwise let the
    recursive delete reach the host's files.
    """
    if not os.path.lexists(path):
        return
    busy = mounts_under(path)
    if busy:
        raise RuntimeError(f"refusing to remove {path}: still mounted: {', '.join(busy)}")
    if shutil.which("chattr") is not None:
        subprocess.run(
            ["chattr", "-R", "-f", "-i", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    shutil.rmtree(path)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this process's mount namespace."""
    root = os.path.realpath(path)
    found: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5:
                continue
            # Field 5 is the mount point, with spaces and the like octal-escaped.
            point = fields[4].encode().decode("unicode_escape")
            if point == root or point.startswith(root.rstrip("/") + "/"):
                found.append(point)
    return found


def _scratch_dir(sysroot_path: Path) -> Path:
    # Next to the sysroot, so commits hard-link nothing across filesystems and cleanup is local.
    work = sysroot_path.parent / (sysroot_path.name + ".work")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    return work


def tools_unavailable(tools: Sequence[str] = ("ostree",)) -> str | None:
    """None when every tool is on PATH, else a sentence naming the first missing one."""
    for tool in tools:
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    return None
