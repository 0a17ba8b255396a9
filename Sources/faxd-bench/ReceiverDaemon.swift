import Engine
import FaxdTesting
import Foundation

/// The receiving side of the benchmark: `faxd serve` as a separate process, configured the way an
/// operator would, with its status file and log in a scratch directory.
final class ReceiverDaemon {
    let directory: String
    let sipPort: Int
    let process: FaxdProcess
    let statusPath: String
    let logPath: String
    var probe: ProcessProbe { ProcessProbe(pid: process.pid) }
    var receiveDirectory: String { directory + "/data/fax_files/rx" }

    /// The API key of the benchmark's account (from `faxd account add`).
    let apiKey: String
    let httpPort: Int

    /// `extraConfig` is appended to the YAML (top-level sections the base does not use);
    /// `httpPort` 0 keeps HTTP on an ephemeral port nobody reads.
    init(executable: String?, sipPort: Int, rtpPorts: ClosedRange<UInt16>, shards: Int, extraConfig: String = "", httpPort: Int = 0) throws {
        self.httpPort = httpPort
        directory = Fixtures.scratchDirectory("bench-receiver")
        self.sipPort = sipPort
        statusPath = directory + "/status.json"
        logPath = directory + "/faxd.log"
        // The embedded defaults plus what a load of this size needs: room in the port range and no
        // per-trunk limit (the loopback trunk has none).
        let config = """
            data_dir: \(directory)/data
            sip:
              listen: 127.0.0.1:\(sipPort)
              invite_rate_per_source: 0
            media:
              rtp_ports: \(rtpPorts.lowerBound)-\(rtpPorts.upperBound)
              shards: \(shards)
            processing:
              catch_all_account: "15550000000"
            """ + (extraConfig.isEmpty ? "" : "\n" + extraConfig)
        try config.write(toFile: directory + "/faxd.yaml", atomically: true, encoding: .utf8)
        // Every call is recorded like a customer's: one account takes the benchmark's DIDs.
        let account = try FaxdProcess(["account", "add", "--number", "15550000000", "--plan", "enterprise",
                                       "--config", directory + "/faxd.yaml"], executable: executable)
        account.waitUntilExit()
        guard account.child.terminationStatus == 0 else { throw BenchError("faxd account add failed: \(account.standardError())") }
        let created = (try? JSONSerialization.jsonObject(with: Data(account.standardOutput().utf8))) as? [String: Any]
        apiKey = created?["api_key"] as? String ?? ""
        process = try FaxdProcess(["serve", "--http-listen", "127.0.0.1:\(httpPort)", "--config", directory + "/faxd.yaml", "--status-file", statusPath],
                                  executable: executable, logFile: logPath)
        // Ready when the first status file appears (written right after SIP listens).
        let deadline = Date().addingTimeInterval(10)
        while status() == nil {
            guard process.isRunning, Date() < deadline else {
                throw BenchError("faxd serve did not start; its log: \(logPath)\n" + tail(of: logPath))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The daemon's last status file.
    func status() -> DaemonStatus? {
        guard let data = FileManager.default.contents(atPath: statusPath) else { return nil }
        return try? JSONDecoder().decode(DaemonStatus.self, from: data)
    }

    /// Removes the received TIFFs of a step.
    func clearReceived() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: receiveDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: receiveDirectory + "/" + name)
        }
    }

    func stop() { process.stop() }

    /// The daemon's exit status (128 + signal) if it is no longer running.
    var exitStatus: Int32? { process.child.terminationStatus }
}

/// The last lines of a file, for error messages.
func tail(of path: String, lines: Int = 20) -> String {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
