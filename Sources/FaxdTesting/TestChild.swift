import Foundation

/// Helpers for the processes tests start (SIPp, the Python test servers).
public enum TestChild {
    /// `executable` with `arguments`, run through `setpriv --pdeathsig KILL` when the system has it:
    /// the child is killed when the thread that started it ends, so a test process that crashes
    /// leaves no server behind holding its ports. Start it from a thread that lives as long as the
    /// child should (the cooperative pool's threads, or a thread that waits for the child).
    public static func diesWithThisThread(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return (executable, arguments) }
        return ("/usr/bin/setpriv", ["--pdeathsig", "KILL", executable] + arguments)
    }
}
