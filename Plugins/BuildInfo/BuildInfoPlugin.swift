import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` (the git commit the build is made from) before every build of the
/// target that uses it, so that `intern --version` names the commit. Outside a git checkout (a
/// tarball, the container build's copy of the sources) the commit is `unknown`, or what
/// `INTERN_BUILD_COMMIT` says. The file is rewritten only when its text changes: an incremental
/// build recompiles it after a commit, not on every build.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let environment = ProcessInfo.processInfo.environment
        return [.prebuildCommand(
            displayName: "Recording the git commit of \(target.name)",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", Self.script, "build-info", context.package.directoryURL.path, output.path],
            environment: [
                "PATH": environment["PATH"] ?? "/usr/bin:/bin",
                "INTERN_BUILD_COMMIT": environment["INTERN_BUILD_COMMIT"] ?? "",
            ],
            outputFilesDirectory: output)]
    }

    /// `sh -c SCRIPT build-info PACKAGE_DIR OUTPUT_DIR`. `-dirty`: tracked files differ from the
    /// commit. GIT_OPTIONAL_LOCKS=0: `git status` never takes the index lock from a git command
    /// someone runs at the same time.
    static let script = #"""
        set -u
        package=$1 output=$2
        commit=${INTERN_BUILD_COMMIT:-}
        if [ -z "$commit" ] && [ -e "$package/.git" ] && command -v git >/dev/null 2>&1; then
            export GIT_OPTIONAL_LOCKS=0
            if commit=$(git -C "$package" rev-parse --short=12 HEAD 2>/dev/null); then
                [ -z "$(git -C "$package" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"
            else
                commit=
            fi
        fi
        text="// Written before each build by Plugins/BuildInfo; not in git.
        enum BuildInfo {
            /// The git commit this binary was built from (-dirty: with changes not committed), or unknown.
            static let commit = \"${commit:-unknown}\"
        }"
        mkdir -p "$output"
        [ "$(cat "$output/BuildInfo.swift" 2>/dev/null)" = "$text" ] || printf '%s\n' "$text" > "$output/BuildInfo.swift"
        """#
}
