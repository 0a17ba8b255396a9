import Engine
import FaxdTesting
import Foundation
import Testing

/// The executables as an operator runs them: `faxd serve` and `faxd send` as separate processes.
@Suite struct ProcessTests {
    /// The README's first fax: serve on loopback, send the 3-page fixture, SIGTERM the daemon.
    @Test func sendToServeThenStopCleanly() async throws {
        let ports = TestPorts.allocate()
        let txPorts = TestPorts.allocate()
        let data = Fixtures.scratchDirectory("serve")
        let statusFile = data + "/status.json"
        try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--data-dir", data])
        let serve = try FaxdProcess(["serve", "--http-listen", "127.0.0.1:0", "--data-dir", data, "--sip-listen", "127.0.0.1:\(ports.sip)",
                                     "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)",
                                     "--status-file", statusFile])
        defer { serve.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "faxd serve did not start listening")
        let send = try FaxdProcess(["send", "--to", "sip:15551234567@127.0.0.1:\(ports.sip)", "--file", Fixtures.threePageFine,
                                    "--station-id", "15550001111",
                                    "--rtp-ports", "\(txPorts.rtp.lowerBound)-\(txPorts.rtp.upperBound)"])
        let status = await send.exit(timeout: 120)
        let json = send.standardOutput()
        #expect(status == 0, "faxd send exit \(String(describing: status)): \(json) \(send.standardError())")
        let outcome = try JSONDecoder.faxd.decode(FaxOutcome.self, from: Data(json.utf8))
        #expect(outcome.success && outcome.pagesTransferred == 3)

        // The status file (rewritten every second) counts the call and the shard's ticks.
        var daemonStatus: DaemonStatus?
        for _ in 0..<40 {
            if let data = FileManager.default.contents(atPath: statusFile),
               let read = try? JSONDecoder().decode(DaemonStatus.self, from: data), read.callsEnded == 1 {
                daemonStatus = read
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let final = try #require(daemonStatus, "status file \(statusFile) never showed the call")
        #expect(final.pid == serve.pid)
        #expect(final.faxesCompleted == 1 && final.activeCalls == 0)
        let ticks = final.shards.reduce(UInt64(0)) { $0 + $1.ticks }
        #expect(ticks > 1000, "a 30 s call is about 1500 ticks")
        #expect(final.shards.allSatisfy { UInt64($0.latenessHistogram.reduce(0, +)) == $0.ticks })

        serve.signal(SIGTERM)
        #expect(await serve.exit(timeout: 15) == 0, "faxd serve exits 0 on SIGTERM")
        let log = serve.standardError()
        #expect(log.contains("stopped"))
        let received = try FileManager.default.contentsOfDirectory(atPath: data + "/fax_files/rx").sorted()
        try #require(received.count == 2 && received[1].hasSuffix(".tif") && received[0] == received[1].dropLast(4) + ".pdf", "\(received)")
        #expect(PageCheck.compare(sent: Fixtures.threePageFine, received: data + "/fax_files/rx/" + received[1]) == [])
        // Customers' files are faxd's user's alone (issue 18: they were 0644/0755). The data
        // directory existed before faxd ran (0755, made by the test) and was tightened at start.
        func mode(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1 }
        for directory in [data, data + "/fax_files", data + "/fax_files/rx"] { #expect(mode(directory) == 0o700, "\(directory): \(String(mode(directory), radix: 8))") }
        for file in received.map({ data + "/fax_files/rx/" + $0 }) + [data + "/faxd.sqlite"] {
            #expect(mode(file) == 0o600, "\(file): \(String(mode(file), radix: 8))")
        }
        // The operator's view of the record.
        let list = try await FaxdProcess.run(["fax", "list", "--data-dir", data])
        let row = try #require(list.split(separator: "\n").dropFirst().first)
        #expect(row.contains("inbound") && row.contains("completed") && row.contains("3/3") && row.contains("15551234567"), "\(list)")
    }

    /// SIGTERM in the middle of a fax: the daemon hangs up with BYE, records the call as
    /// interrupted (keeping the pages already received) and exits 0.
    @Test func sigtermInterruptsACallAndRecordsIt() async throws {
        let ports = TestPorts.allocate()
        let txPorts = TestPorts.allocate()
        let data = Fixtures.scratchDirectory("sigterm")
        try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--data-dir", data])
        let serve = try FaxdProcess(["serve", "--http-listen", "127.0.0.1:0", "--data-dir", data, "--sip-listen", "127.0.0.1:\(ports.sip)",
                                     "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"])
        defer { serve.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "faxd serve did not start listening")
        let send = try FaxdProcess(["send", "--to", "sip:15551234567@127.0.0.1:\(ports.sip)", "--file", Fixtures.threePageFine,
                                    "--rtp-ports", "\(txPorts.rtp.lowerBound)-\(txPorts.rtp.upperBound)"])
        defer { send.signal(SIGKILL) }
        try await Task.sleep(for: .seconds(14))
        serve.signal(SIGTERM)
        #expect(await serve.exit(timeout: 15) == 0)
        let log = serve.standardError()
        let line = try #require(log.split(separator: "\n").first { $0.contains("call ended") })
        #expect(line.contains("\"hangup_cause\":\"shutdown\""), "\(line)")
        #expect(line.contains("\"success\":false"))
        #expect(await send.exit(timeout: 15) == 1, "the sender sees the BYE and reports failure")
        let outcome = try JSONDecoder.faxd.decode(FaxOutcome.self, from: Data(send.standardOutput().utf8))
        #expect(outcome.hangupCause == .remoteHangup)
        #expect(outcome.pagesTransferred < 3)
    }

    /// A G.711 sender that vanishes mid-fax (killed, no BYE) is ended by the receiver's media watchdog
    /// with a clear reason, and the pages received so far stay on disk.
    @Test func senderGoingSilentMidFaxEndsByWatchdog() async throws {
        let receiver = try TestEngine(label: "silent-rx") { $0.media.silenceTimeoutSeconds = 3 }
        defer { receiver.stop() }
        let txPorts = TestPorts.allocate()
        let send = try FaxdProcess(["send", "--to", receiver.uri(number: "15551234567"), "--file", Fixtures.threePageFine,
                                    "--transport", "g711", "--rtp-ports", "\(txPorts.rtp.lowerBound)-\(txPorts.rtp.upperBound)"])
        try await Task.sleep(for: .seconds(16))
        send.signal(SIGKILL)
        let outcome = try #require(await receiver.outcomes.next(count: 1, timeout: 15).first)
        #expect(outcome.hangupCause == .mediaTimeout)
        #expect(outcome.detail?.hasPrefix("no RTP received for 3 s, in T.30 phase") == true, "\(outcome.detail ?? "")")
        #expect(!outcome.success)
        #expect(outcome.pagesTransferred >= 1 && outcome.pagesTransferred < 3, "pages: \(outcome.pagesTransferred)")
        let file = try #require(outcome.file)
        #expect(try TIFFPageCount.of(file) == outcome.pagesTransferred)
    }
}

