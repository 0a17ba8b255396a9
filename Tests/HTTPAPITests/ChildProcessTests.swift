import ChildProcess
import Foundation
import Testing

/// CSpawn's children: only stdin/stdout/stderr, and a death signal tied to the process, not to
/// the thread that happened to start them (PR_SET_PDEATHSIG follows the forking thread).
@Suite struct ChildProcessTests {
    @Test func aChildOutlivesTheThreadThatStartedIt() async throws {
        let started = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var child: ChildProcess?
        let thread = Thread {
            child = try? ChildProcess("/bin/sleep", ["30"])
            started.signal()
        }
        thread.start()
        started.wait()
        let sleeper = try #require(child)
        defer { sleeper.stop(grace: 0) }
        // The starting thread has ended by now; give a death signal time to arrive if it were armed on it.
        while !thread.isFinished { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(sleeper.isRunning, "the child died with the thread that started it")
    }

    @Test func aChildGetsOnlyItsStandardDescriptors() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)  // not close-on-exec, like sofia's sockets
        defer { close(fds[0]); close(fds[1]) }
        let run = try ChildProcess.run("/bin/ls", ["/proc/self/fd"])
        let descriptors = Set(run.stdout.split(separator: "\n").map(String.init))
        // ls itself holds one more descriptor (its directory listing).
        #expect(descriptors.subtracting(["0", "1", "2"]).count <= 1, "inherited descriptors: \(descriptors)")
        #expect(run.status == 0)
    }
}
