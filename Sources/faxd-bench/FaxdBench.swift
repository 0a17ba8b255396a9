import ArgumentParser
import Engine
import Fax
import FaxdTesting
import Foundation
import Logging

@main
struct FaxdBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faxd-bench",
        abstract: "Load benchmarks: concurrent faxes into a faxd serve process, and SIP signalling load with SIPp.",
        subcommands: [FaxBench.self, SIPBench.self, VoiceBench.self, StreamBench.self],
        defaultSubcommand: FaxBench.self
    )
}

extension BenchTransport: ExpressibleByArgument {}

/// Options both benchmarks share.
struct ReceiverOptions: ParsableArguments {
    @Option(name: .customLong("faxd"), help: "The faxd executable to benchmark (default: the one next to faxd-bench).")
    var faxd: String?

    @Option(name: .customLong("sip-port"), help: "SIP port of the receiving faxd on 127.0.0.1.")
    var sipPort = 5590

    @Option(name: .customLong("rx-shards"), help: "Media shards of the receiving faxd (0 = one per core).")
    var shards = 0

    /// nil: the faxd next to faxd-bench (`FaxdProcess.executable`).
    var executable: String? { faxd }
}

/// A peer fax server to drive the same load into instead of the faxd the benchmark starts.
struct PeerOptions: ParsableArguments {
    @Option(name: .customLong("peer"), help: "Name of a peer fax server already running here (e.g. asterisk, from ./scripts/asterisk-peer start); the load goes to it instead of a faxd serve. Needs --peer-uri, --peer-pid, --peer-dir.")
    var name: String?

    @Option(name: .customLong("peer-uri"), help: "SIP URI the sender calls at the peer, e.g. sip:1000@127.0.0.1:5090.")
    var uri: String?

    @Option(name: .customLong("peer-pid"), help: "The peer's process id (CPU and RSS from /proc).")
    var pid: Int32?

    @Option(name: .customLong("peer-dir"), help: "Directory the peer writes one received TIFF per call into (its .tif files are deleted after each step).")
    var directory: String?

    @Option(name: .customLong("peer-log"), help: "The peer's log, for error messages.")
    var log: String?

    func validate() throws {
        guard name != nil || uri != nil || pid != nil || directory != nil else { return }
        guard name != nil, uri != nil, pid != nil, directory != nil else {
            throw ValidationError("a peer needs all of --peer, --peer-uri, --peer-pid and --peer-dir")
        }
    }

    /// The peer, or nil when the benchmark starts its own faxd.
    func receiver() throws -> PeerReceiver? {
        guard let name, let uri, let pid, let directory else { return nil }
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        return try PeerReceiver(name: name, destination: uri, pid: pid, receiveDirectory: absolute, logPath: log ?? "(none given)")
    }
}

struct FaxBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fax",
        abstract: "Concurrent faxes from an in-process sending engine into faxd serve; prints a table per ramp step.")

    @Option(help: "Media transport of every call: g711 (audio) or t38 (T.38 from the first INVITE).")
    var transport: BenchTransport = .g711

    @Option(help: "Concurrent calls in the last step.")
    var calls = 100

    @Option(help: "Calls added per step (default: a quarter of --calls).")
    var ramp: Int?

    @Option(help: "Call attempts per second while a step starts its calls.")
    var rate = 50.0

    @Option(help: "Fax document to send (default: fixtures/bench-letter.tif: cover, one dense page, last page).")
    var file: String?

    @Flag(inversion: .prefixedNo, help: "Error correction mode.")
    var ecm = true

    @Flag(name: .customLong("t38-reinvite"), help: "With --transport t38: calls start as audio and the sender re-INVITEs to T.38 (for receivers that do not take T.38 in the first INVITE, like Asterisk's chan_sip).")
    var t38ByReinvite = false

    @OptionGroup var receiverOptions: ReceiverOptions

    @OptionGroup var peerOptions: PeerOptions

    func validate() throws {
        try peerOptions.validate()
        guard calls > 0 else { throw ValidationError("--calls must be at least 1") }
        if let ramp, ramp <= 0 { throw ValidationError("--ramp must be at least 1") }
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = .error
            return handler
        }
        let document = file ?? Fixtures.benchLetter
        guard FileManager.default.fileExists(atPath: document) else {
            throw ValidationError("\(document): no such document; pass --file")
        }
        var options = FaxOptions()
        options.ecm = ecm
        options.stationID = "faxd-bench"
        let step = ramp ?? max(1, calls / 4)
        let steps = Array(stride(from: step, to: calls, by: step)) + [calls]
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

        print("# faxd load benchmark: \(transport.rawValue), \(URL(fileURLWithPath: document).lastPathComponent), ECM \(ecm ? "on" : "off")\(t38ByReinvite && transport == .t38 ? ", T.38 by re-INVITE" : ""), steps \(steps.map(String.init).joined(separator: ",")), \(rate) calls/s, \(cores) cores")
        print("measuring raw spandsp (terminals back to back in this process, no I/O) ...")
        let raw = try RawSpandspCost.measure(transport: transport, document: document, options: options)
        print(String(format: "raw spandsp: %d pages in %.1f s of call; receiving terminal %.3f ms CPU per call-second, sending terminal %.3f ms",
                     raw.pages, raw.callSeconds, raw.receiverCPUPerCallSecond * 1000, raw.senderCPUPerCallSecond * 1000))

        let receiver: any FaxReceiver
        if let peer = try peerOptions.receiver() {
            print("receiver: \(peer.name), pid \(peer.pid), at \(peer.destination), TIFFs in \(peer.receiveDirectory)")
            receiver = peer
        } else {
            let daemon = try ReceiverDaemon(executable: receiverOptions.executable, sipPort: receiverOptions.sipPort,
                                            rtpPorts: 20000...29999, shards: receiverOptions.shards)
            receiver = daemon
        }
        defer { (receiver as? ReceiverDaemon)?.stop() }
        var senderConfiguration = FaxdConfiguration()
        senderConfiguration.dataDirectory = receiver.directory + "/sender"
        senderConfiguration.sip.listenHost = "127.0.0.1"
        senderConfiguration.sip.listenPort = 0
        senderConfiguration.media.rtpPortLow = 40000
        senderConfiguration.media.rtpPortHigh = 49999
        let sender = try Daemon(configuration: senderConfiguration, logger: Logger(label: "faxd-bench-sender"))
        try sender.start()
        defer { sender.stop() }
        let load = try FaxLoad(sender: sender, receiver: receiver, transport: transport, document: document, options: options,
                               t38ByReinvite: t38ByReinvite)

        var results: [StepResult] = []
        for (index, n) in steps.enumerated() {
            let label = "step \(index + 1)/\(steps.count) (\(n) calls)"
            let result = try load.runStep(calls: n, rate: rate, label: label) { line in
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            results.append(result)
            print(Report.stepLine(result, raw: raw))
            if let status = receiver.exitStatus {
                print("the receiving \(receiver.name) exited during this step: \(status > 128 ? "signal \(status - 128)" : "status \(status)"); see its log")
                break
            }
            // Let the receiver settle (sockets closed, files flushed) before the next step.
            Thread.sleep(forTimeInterval: 2)
        }
        print("")
        if receiver.writesStatus {
            print(Report.table(results, raw: raw))
        } else {
            print(Report.table(results, raw: raw, receiver: receiver.name))
        }
        let stateBytes = transport == .g711 ? AudioFaxTerminal.stateBytes : T38FaxTerminal.stateBytes
        print(String(format: "memory per call in spandsp itself: %.0f KB of terminal state (%@), of which faxd gives the ECM buffer back between pages; spandsp would keep a received page's decoded image (up to %.0f KB for this document's pages), of which faxd's page hook leaves a few rows",
                     Double(stateBytes) / 1024, transport == .g711 ? "fax_state_t" : "t38_terminal_state_t",
                     Double(load.pageImageBytes) / 1024))
        print("receiving \(receiver.name) log: \(receiver.logPath)")
        if results.contains(where: { $0.completed < $0.calls }) {
            print("sending side's outcomes of the failed calls: \(load.failedOutcomesPath)")
        }
        if results.contains(where: { $0.completed < $0.calls || $0.intactFaxes < $0.calls }) { throw ExitCode(1) }
    }
}

struct SIPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip",
        abstract: "SIP signalling load with SIPp (INVITE, 200, ACK, BYE; no fax) against faxd serve.")

    @Option(help: "Call attempts per second SIPp aims for.")
    var rate = 300

    @Option(help: "Calls in total.")
    var calls = 3000

    @OptionGroup var receiverOptions: ReceiverOptions

    func run() throws {
        guard SIPp.isInstalled else { throw ValidationError("sipp is not installed (apt install sip-tester)") }
        let receiver = try ReceiverDaemon(executable: receiverOptions.executable, sipPort: receiverOptions.sipPort,
                                          rtpPorts: 20000...29999, shards: receiverOptions.shards)
        defer { receiver.stop() }
        let cpuBefore = receiver.probe.cpuSeconds() ?? 0
        print("# SIPp signalling load: \(calls) calls at \(rate)/s (INVITE, 200, ACK, 200 ms, BYE) into faxd serve")
        let result = try SIPLoad.run(receiverSIPPort: receiverOptions.sipPort, rate: rate, calls: calls,
                                     localPort: receiverOptions.sipPort + 1, mediaPort: 39000)
        let cpu = (receiver.probe.cpuSeconds() ?? 0) - cpuBefore
        print(Report.sipTable(result, receiverCPU: cpu))
        if !result.errors.isEmpty { print("SIPp errors (first 2000 characters):\n\(result.errors)") }
        print("receiving faxd log: \(receiver.logPath)")
        if result.failed > 0 || result.successful < calls { throw ExitCode(1) }
    }
}
