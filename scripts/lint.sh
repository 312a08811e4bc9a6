#!/usr/bin/env bash
# Mechanical style gate (STYLE.md section 4 item 10) over the C files in
# src/ tests/ fuzz/ bench/:
#   1. banned libc calls: strcpy strcat sprintf vsprintf gets atoi atol strtok sscanf
#   2. // comments (only /* */ is allowed)
#   3. raw allocation (malloc calloc realloc reallocarray free strdup strndup) in
#      src/ outside src/lib/util/mt_alloc.c: use mt_alloc.h; tests may use libc
#   4. memcmp in src/kms/: secrets are compared with CRYPTO_memcmp
#   5. clang-format --dry-run --Werror with the repository's .clang-format
# Comments, string and character literals are blanked before the call checks,
# and names must stand alone (mt_free, EVP_PKEY_free, snprintf, fgets, s->free(...)
# do not match).  Prints file:line: message per hit; exits 1 on any hit.
# A deliberate exception carries a comment on the same line naming the call
# and saying why, e.g.  free(text); /* lint-allow: free (jansson's malloc) */
#
# Usage: scripts/lint.sh [--no-format]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

check_format=1
case "${1-}" in
--no-format) check_format=0 ;;
"") ;;
*)
    echo "usage: scripts/lint.sh [--no-format]" >&2
    exit 2
    ;;
esac

files=()
while IFS= read -r -d '' f; do
    files+=("${f#./}")
done < <(find src tests fuzz bench -name node_modules -prune -o \
    -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null | LC_ALL=C sort -z)

if [ ${#files[@]} -eq 0 ]; then
    echo "lint: no C files found"
    exit 0
fi

hits=0

# One pass over every file.  The scanner keeps the block-comment state across
# lines and writes a blanked copy of each line in which comments and literal
# contents are spaces, so a word inside a comment or a string never matches.
# shellcheck disable=SC2016 # awk program, not shell
awk_prog='
function report(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg
    nhits++
}
# Name of the first call in s to a name matching re that is not part of a
# longer identifier nor a member call (x.name( or x->name( ), or "" when none.
function find_call(s, re,    rest, name, m, before) {
    rest = s
    while (match(rest, "(^|[^A-Za-z0-9_.])(" re ")[ \t]*\\(")) {
        m = substr(rest, RSTART, RLENGTH)
        name = m
        sub(/^[^A-Za-z_]/, "", name)
        sub(/[ \t]*\($/, "", name)
        before = substr(rest, 1, RSTART + RLENGTH - 1)
        sub(/[A-Za-z_][A-Za-z0-9_]*[ \t]*\($/, "", before)
        if (before !~ /(->|\.)[ \t]*$/ && index(rawline, "lint-allow: " name) == 0)
            return name
        rest = substr(rest, RSTART + RLENGTH)
    }
    return ""
}
FNR == 1 {
    incomment = 0
    alloc_rule = (FILENAME ~ /^src\// && FILENAME != "src/lib/util/mt_alloc.c")
    kms_rule = (FILENAME ~ /^src\/kms\//)
}
{
    line = $0
    rawline = $0
    out = ""
    n = length(line)
    i = 1
    slash_comment = 0
    while (i <= n) {
        c = substr(line, i, 1)
        if (incomment) {
            if (c == "*" && substr(line, i + 1, 1) == "/") {
                incomment = 0
                out = out "  "
                i += 2
            } else {
                out = out " "
                i++
            }
            continue
        }
        if (c == "/" && substr(line, i + 1, 1) == "*") {
            incomment = 1
            out = out "  "
            i += 2
            continue
        }
        if (c == "/" && substr(line, i + 1, 1) == "/") {
            slash_comment = 1
            break
        }
        if (c == "\"" || c == "\047") {
            q = c
            out = out c
            i++
            while (i <= n) {
                c = substr(line, i, 1)
                if (c == "\\") {
                    out = out "  "
                    i += 2
                    continue
                }
                if (c == q) {
                    out = out c
                    i++
                    break
                }
                out = out " "
                i++
            }
            continue
        }
        out = out c
        i++
    }
    if (slash_comment)
        report("// comment (use /* */)")
    name = find_call(out, banned)
    if (name != "")
        report("banned function " name "()")
    if (alloc_rule) {
        name = find_call(out, allocs)
        if (name != "")
            report("raw " name "() outside src/lib/util/mt_alloc.c (use mt_" name ")")
    }
    if (kms_rule) {
        name = find_call(out, "memcmp")
        if (name != "")
            report("memcmp() in src/kms (use CRYPTO_memcmp)")
    }
}
END { exit nhits > 0 }
'

if ! LC_ALL=C awk -v banned='strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|sscanf' \
    -v allocs='malloc|calloc|realloc|reallocarray|free|strdup|strndup' \
    "$awk_prog" "${files[@]}"; then
    hits=1
fi

if [ "$check_format" -eq 1 ]; then
    if ! command -v clang-format >/dev/null 2>&1; then
        echo "lint: clang-format not found (scripts/install-deps.sh lint)" >&2
        exit 1
    fi
    # clang-format prints file:line:col: error: ... plus the source line for
    # each misformatted spot; keep one file:line per line.  Anything else it
    # says (a bad .clang-format, say) is shown whole.
    fmt_rc=0
    fmt_out=$(clang-format --style=file --dry-run --Werror "${files[@]}" 2>&1) || fmt_rc=$?
    if [ "$fmt_rc" -ne 0 ]; then
        hits=1
        bad=$(printf '%s\n' "$fmt_out" |
            sed -n 's/^\([^ :][^:]*:[0-9][0-9]*\):[0-9][0-9]*: error: code should be clang-formatted.*/\1: not clang-formatted/p' |
            uniq)
        if [ -n "$bad" ]; then
            printf '%s\n' "$bad"
            echo "lint: fix formatting with: clang-format -i $(printf '%s\n' "$bad" | cut -d: -f1 | sort -u | tr '\n' ' ')"
        else
            printf '%s\n' "$fmt_out"
        fi
    fi
fi

if [ "$hits" -ne 0 ]; then
    echo "lint: FAILED (${#files[@]} files checked)"
    exit 1
fi
echo "lint: OK (${#files[@]} files checked)"
