// Container image references as the container tooling reads them (distribution/reference, which
// podman, CRI-O and the kubelet's runtimes share): [host[:port]/]path[:tag][@algorithm:hex].
import { show } from "./errors.js";

/** distribution/reference's NameTotalLengthMax. */
const MAX_NAME = 255;
/** One path component: lower-case letters and digits, separated by `.`, `_`, `__` or dashes. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A host name (letters of either case, digits, inner dashes; dot-separated) or [IPv6]. */
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^\w[\w.-]{0,127}$/;
/** go-digest's registered algorithms and their hex lengths (lower-case, as go-digest requires). */
const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
const FORM = "the form is [host[:port]/]path[:tag][@sha256:digest], e.g. quay.io/org/seed:4.18.1";

/**
 * Why `ref` is not an image reference podman or the kubelet would pull, or undefined. The
 * grammar of distribution/reference (reference.go) after ParseNormalizedNamed's split: the first
 * path element is a registry host when it has a `.` or `:`, is `localhost`, or has upper case;
 * the repository path is lower case. Stricter than LCA's and TALM's CRD pattern
 * (`^([a-z0-9]+://)?[\S]+$`): a transport prefix is refused, because the agent adds `docker://`
 * itself (docs/decisions.md). Every pattern is linear: no nested quantifiers over one alphabet.
 */
export function imageRefProblem(ref: string): string | undefined {
  const why = reason(ref);
  return why ? `${show(ref)} is not an image reference: ${why} (${FORM})` : undefined;
}

function reason(ref: string): string | undefined {
  if (!ref) return "it is empty";
  if (/\s/.test(ref)) return "it contains whitespace";
  if (/^[a-z0-9]+:\/\//.test(ref))
    return "a transport prefix such as docker:// does not belong here (the agent adds it)";
  const at = ref.indexOf("@");
  const name = at < 0 ? ref : ref.slice(0, at);
  if (at >= 0 && !DIGEST.test(ref.slice(at + 1)))
    return "the digest after @ must be sha256: and 64 lower-case hex digits (or sha384, sha512)";
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  const repo = colon > slash ? name.slice(0, colon) : name;
  if (colon > slash && !TAG.test(name.slice(colon + 1)))
    return "the tag after : must be letters, digits, _, . or -, start with a letter, digit or _, and be at most 128 characters";
  if (!repo) return "it has no repository name";
  if (repo.length > MAX_NAME) return `the name is ${repo.length} characters; at most ${MAX_NAME}`;
  if (/^[a-f0-9]{64}$/.test(repo)) return "a name of 64 hex digits is an image ID, not a name";
  return nameProblem(repo);
}

function nameProblem(repo: string): string | undefined {
  const parts = repo.split("/");
  const first = parts[0] ?? "";
  const isHost =
    parts.length > 1 &&
    (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
  if (isHost && !HOST.test(first)) return `the registry ${show(first)} is not a host name[:port]`;
  for (const part of isHost ? parts.slice(1) : parts) {
    if (PATH_COMPONENT.test(part)) continue;
    if (PATH_COMPONENT.test(part.toLowerCase()))
      return "the repository path must be lower case (only the registry host may have upper case)";
    return `the path component ${show(part)} is not lower-case letters and digits separated by ., _, __ or -`;
  }
  return undefined;
}
