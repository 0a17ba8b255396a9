import Engine
import FaxdTesting
import Foundation

/// The receiving side a fax load is driven into: the `faxd serve` the benchmark starts, or a
/// peer fax server already running on this machine (Asterisk, `scripts/asterisk-peer`).
protocol FaxReceiver: AnyObject {
    /// What the report calls it: "faxd" or the peer's name.
    var name: String { get }
    /// Where the sender calls.
    var destination: String { get }
    /// The receiving process, for CPU and RSS.
    var probe: ProcessProbe { get }
    /// Where the received TIFFs appear, one per call.
    var receiveDirectory: String { get }
    /// The benchmark's scratch directory (the sender's data and failed outcomes go there).
    var directory: String { get }
    /// The receiver's log, quoted when it dies.
    var logPath: String { get }
    /// The daemon's status file: active channels and tick lateness. nil for a peer, which has none.
    func status() -> DaemonStatus?
    /// Removes the received TIFFs of a step.
    func clearReceived()
    /// The process's exit status (128 + signal) if it is no longer running.
    var exitStatus: Int32? { get }
    /// Whether figures come from the receiver's status file (faxd) or from the sender's side (peer).
    var writesStatus: Bool { get }
}

extension ReceiverDaemon: FaxReceiver {
    var name: String { "faxd" }
    var destination: String { "sip:15551230000@127.0.0.1:\(sipPort)" }
    var writesStatus: Bool { true }
}

/// A fax server the benchmark did not start and cannot look inside: only its process (/proc CPU
/// and RSS, summed over its threads by the kernel) and the TIFFs it writes. Its channels are
/// counted at the sender: a call the sender has up is a channel the peer holds.
final class PeerReceiver: FaxReceiver {
    let name: String
    let destination: String
    let pid: Int32
    let receiveDirectory: String
    let directory: String
    let logPath: String
    var probe: ProcessProbe { ProcessProbe(pid: pid) }
    var writesStatus: Bool { false }

    init(name: String, destination: String, pid: Int32, receiveDirectory: String, logPath: String) throws {
        guard kill(pid, 0) == 0 else { throw BenchError("--peer-pid \(pid): no such process (is the peer running?)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: receiveDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BenchError("--peer-dir \(receiveDirectory): no such directory (where the peer writes received TIFFs)")
        }
        self.name = name
        self.destination = destination
        self.pid = pid
        self.receiveDirectory = receiveDirectory
        self.logPath = logPath
        directory = Fixtures.scratchDirectory("bench-peer")
    }

    func status() -> DaemonStatus? { nil }

    /// Only the TIFFs: the directory is the peer's.
    func clearReceived() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: receiveDirectory)) ?? [] where name.hasSuffix(".tif") {
            try? FileManager.default.removeItem(atPath: receiveDirectory + "/" + name)
        }
    }

    var exitStatus: Int32? { kill(pid, 0) == 0 ? nil : 1 }
}
