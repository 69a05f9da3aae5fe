"""Shell completion, driven the way the shells drive it: bash through COMP_WORDS/COMP_CWORD
with the generated script loaded, zsh through its parser and compinit."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from clisources import SAMPLE_SPEC, source_words

from ostree_autocleanup.generator.docs import clidoc, completion


def bash_complete(script: str, prog: str, words: list[str], cwd: Path) -> list[str]:
    """COMPREPLY after completing the last of ``words`` (the word under the cursor)."""
    all_words = [prog, *words]
    driver = f"""
set -u
source {shlex.quote(script)}
func=$(complete -p {shlex.quote(prog)} | sed -E 's/.*-F ([^ ]+) .*/\\1/')
COMP_WORDS=({" ".join(shlex.quote(w) for w in all_words)})
COMP_CWORD={len(all_words) - 1}
COMP_LINE=${{COMP_WORDS[*]}}
COMP_POINT=${{#COMP_LINE}}
COMPREPLY=()
"$func" {shlex.quote(prog)} "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", driver],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line for line in result.stdout.splitlines() if line]


@pytest.fixture
def main_script(tmp_path: Path) -> str:
    command = clidoc.load(clidoc.PROGRAMS[0])
    path = tmp_path / "ostree-autocleanup.bash"
    path.write_text(completion.bash_script(command, "a test"))
    return str(path)


def test_subcommand_name_completes(main_script: str, tmp_path: Path) -> None:
    assert bash_complete(main_script, "ostree-autocleanup", ["ren"], tmp_path) == ["render"]
    assert bash_complete(main_script, "ostree-autocleanup", ["sch"], tmp_path) == ["schema"]
    names = bash_complete(main_script, "ostree-autocleanup", [""], tmp_path)
    assert {"render", "schema"} <= set(names)
    assert not [n for n in names if n.startswith("-")], "options offered where a command goes"


def test_global_options_come_before_the_subcommand(main_script: str, tmp_path: Path) -> None:
    assert bash_complete(main_script, "ostree-autocleanup", ["--deb"], tmp_path) == ["--debug"]
    after = bash_complete(main_script, "ostree-autocleanup", ["--debug", "ren"], tmp_path)
    assert after == ["render"]


def test_options_of_each_subcommand_complete(program: clidoc.Program, tmp_path: Path) -> None:
    command = clidoc.load(program)
    script = tmp_path / "script.bash"
    script.write_text(completion.bash_script(command, "a test"))
    expected: dict[tuple[str, ...], set[str]] = {}
    for path, word in source_words(program):
        expected.setdefault(path, set())
        if word.startswith("-"):
            expected[path].add(word)
    for path, flags in expected.items():
        offered = bash_complete(str(script), program.prog, [*path, "-"], tmp_path)
        assert set(offered) == flags, f"{program.prog} {' '.join(path)}"


def test_option_values_complete(main_script: str, tmp_path: Path) -> None:
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outfile.yaml").write_text("version: 1\n")
    prog = "ostree-autocleanup"
    assert bash_complete(main_script, prog, ["schema", "--format", ""], tmp_path) == [
        "json",
        "markdown",
    ]
    # bash splits --format=m at '=' (COMP_WORDBREAKS).
    assert bash_complete(main_script, prog, ["schema", "--format", "=", "m"], tmp_path) == [
        "markdown"
    ]
    assert bash_complete(main_script, prog, ["render", "--output", "out"], tmp_path) == ["outdir"]
    assert set(bash_complete(main_script, prog, ["render", "-c", "out"], tmp_path)) == {
        "outdir",
        "outfile.yaml",
    }
    # A value that spells a command name is a value, not a subcommand.
    assert bash_complete(main_script, prog, ["render", "--output", "schema", "--f"], tmp_path) == []
    assert bash_complete(main_script, prog, ["render", "--output", "schema", "--ou"], tmp_path) == [
        "--output"
    ]


def test_cli_spec_commands_complete(tmp_path: Path) -> None:
    script = tmp_path / "sample.bash"
    script.write_text(completion.bash_script(clidoc.from_spec(SAMPLE_SPEC), "a test"))

    def complete(*words: str) -> list[str]:
        return bash_complete(str(script), "sample-helper", list(words), tmp_path)

    assert complete("cl") == ["cleanup"]
    assert complete("cleanup", "--mode", "") == ["full", "prune"]
    assert set(complete("mark", "--")) == {"--sysroot", "--stamp"}


def test_positional_directories_complete(tmp_path: Path) -> None:
    spec = {
        "prog": "sample-generator",
        "summary": "a generator",
        "arguments": [{"name": "NORMAL_DIR", "help": "output"}],
        "options": [
            {"flags": ["--root"], "metavar": "DIR", "help": "root"},
            {"flags": ["--dry-run"], "help": "x"},
        ],
    }
    (tmp_path / "normal").mkdir()
    (tmp_path / "notes").write_text("")
    script = tmp_path / "gen.bash"
    script.write_text(completion.bash_script(clidoc.from_spec(spec), "a test"))
    assert bash_complete(str(script), "sample-generator", ["no"], tmp_path) == ["normal"]
    assert bash_complete(str(script), "sample-generator", ["--dr"], tmp_path) == ["--dry-run"]


@pytest.fixture
def zsh() -> str:
    path = shutil.which("zsh")
    if path is None:
        pytest.skip("zsh is not installed (apt-get install zsh)")
    return path


def test_zsh_script_parses_and_registers(program: clidoc.Program, zsh: str, tmp_path: Path) -> None:
    command = clidoc.load(program)
    fpath = tmp_path / "functions"
    fpath.mkdir()
    script = fpath / f"_{program.prog}"
    script.write_text(completion.zsh_script(command, "a test"))
    check = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, check=False)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    # compinit reads the #compdef line: the function must be registered for the command.
    probe = subprocess.run(
        [
            zsh,
            "-f",
            "-c",
            f"fpath=({shlex.quote(str(fpath))} $fpath); autoload -Uz compinit; "
            f"compinit -u -D; print -r -- ${{_comps[{program.prog}]}}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == f"_{program.prog}"
    for path, word in source_words(program):
        assert word in script.read_text(), f"{word} ({' '.join(path)}) missing from the zsh script"


# Drives an interactive zsh on a pseudo-terminal (zsh/zpty): types the line and TAB, and records
# every candidate the completion system offers through compadd.
ZSH_DRIVER = r"""
zmodload zsh/zpty
fdir=$1 out=$2 line=$3
: > $out
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=($fdir \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() { local -a __h; builtin compadd -O __h \"\$@\"; print -rl -- \$__h >> $out; builtin compadd \"\$@\"; }"
zpty -w z "print -r -- ready >> $out"
for i in {1..100}; do sleep 0.1; [[ -s $out ]] && break; done
zpty -w -n z "$line"$'\t'
for i in {1..100}; do sleep 0.1; (( $(wc -l < $out) > 1 )) && break; done
size=-1
for i in {1..20}; do
  (( size == $(wc -c < $out) )) && break
  size=$(wc -c < $out); sleep 0.3
done
while zpty -r -t z chunk; do :; done
zpty -d z
"""


def zsh_complete(zsh: str, functions: Path, line: str, tmp_path: Path) -> set[str]:
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZSH_DRIVER)
    out = tmp_path / "candidates"
    result = subprocess.run(
        [zsh, "-f", str(driver), str(functions), str(out), line],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines and lines[0] == "ready", "the interactive zsh did not start"
    return {word for word in lines[1:] if word}


def test_zsh_completes_like_a_user_sees_it(zsh: str, tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    functions.mkdir()
    command = clidoc.load(clidoc.PROGRAMS[0])
    (functions / "_ostree-autocleanup").write_text(completion.zsh_script(command, "a test"))
    prog = "ostree-autocleanup"
    assert zsh_complete(zsh, functions, f"{prog} ren", tmp_path) == {"render"}
    assert zsh_complete(zsh, functions, f"{prog} schema --format ", tmp_path) == {
        "json",
        "markdown",
    }
    assert zsh_complete(zsh, functions, f"{prog} render --o", tmp_path) == {"--output"}
    top = zsh_complete(zsh, functions, f"{prog} -", tmp_path)
    assert {"--debug", "--version"} <= top and "--output" not in top


def test_zsh_spec_quotes_awkward_help(zsh: str, tmp_path: Path) -> None:
    spec = {
        "prog": "odd",
        "summary": "help with quotes",
        "options": [
            {"flags": ["--it"], "help": "it's [really] odd: yes"},
            {"flags": ["-v", "--value"], "metavar": "FILE", "help": "a file"},
        ],
    }
    script = tmp_path / "_odd"
    script.write_text(completion.zsh_script(clidoc.from_spec(spec), "a test"))
    check = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, check=False)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    # The _arguments spec must survive zsh's own quoting as one word per option.
    words = subprocess.run(
        [
            zsh,
            "-f",
            "-c",
            f"source {shlex.quote(str(script))} 2>/dev/null; "
            '_arguments() { print -rl -- "$@" }; _odd',
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    assert "--it[it's \\[really\\] odd: yes]" in words
    assert "(-v --value)-v[a file]:FILE:_files" in words
