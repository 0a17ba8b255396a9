import ArgumentParser
import AsyncHTTPClient
import Engine
import FaxdTesting
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// `faxd-bench streams`: N voice calls placed through `faxd serve`'s API into SIPp (`-rtp_echo`,
/// so every leg receives 50 packets a second), each streamed two ways (`streaming_start`,
/// bidirectional) to an echo application this process serves on NIO's WebSocket server: every
/// inbound frame comes back as the application's audio and is played to the call. Over a steady
/// window it reads faxd's CPU, RSS and per-shard tick lateness, and the application's message
/// counts; after the hangups, faxd's stream counters (frames dropped, messages ignored).
struct StreamBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams",
        abstract: "Two-way media streams (WebSocket echo application) on voice calls into SIPp: tick lateness, CPU and RSS per stream.")

    @Option(help: "Calls, each with one two-way stream.")
    var calls = 200

    @Option(help: "Dials per second.")
    var rate = 50.0

    @Option(help: "Seconds of steady streaming measured.")
    var hold = 60

    @Option(help: "Dialect: twilio or telnyx.")
    var dialect = "twilio"

    @OptionGroup var receiverOptions: ReceiverOptions

    func run() throws {
        guard SIPp.isInstalled else { throw ValidationError("sipp is not installed (apt install sip-tester)") }
        let sippPort = receiverOptions.sipPort + 1
        let httpPort = receiverOptions.sipPort + 2
        let appPort = receiverOptions.sipPort + 3
        let admin = "bench-admin-token-0123456789"
        let app = try EchoApplication(port: appPort)
        defer { app.stop() }
        let receiver = try ReceiverDaemon(executable: receiverOptions.executable, sipPort: receiverOptions.sipPort,
                                          rtpPorts: 20000...29999, shards: receiverOptions.shards, extraConfig: """
                                            trunks:
                                              - name: far
                                                domain: 127.0.0.1:\(sippPort)
                                            http:
                                              rate_limit_per_s: 100000
                                              rate_limit_burst: 1000000
                                              admin_token: \(admin)
                                            """, httpPort: httpPort)
        defer { receiver.stop() }
        guard !receiver.apiKey.isEmpty else { throw BenchError("faxd account add printed no api_key") }
        let sipp = SIPp.launch(scenario: "uas_voice_echo.xml", target: nil, localPort: sippPort, mediaPort: 39100, calls: calls,
                               timeout: 3600, extraArguments: ["-rtp_echo", "-l", String(calls + 10)])
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { try? client.syncShutdown() }
        let api = BenchAPI(client: client, base: "http://127.0.0.1:\(httpPort)", key: receiver.apiKey)
        Thread.sleep(forTimeInterval: 1)  // SIPp binds its port
        let idleRSS = receiver.probe.residentBytes() ?? 0
        print("# streams: \(calls) calls, each with a two-way \(dialect) stream to an echo application, at \(rate) dials/s, \(hold) s measured")

        var ids: [String] = []
        var refused: [String: Int] = [:]
        let started = Date()
        for i in 0..<calls {
            let due = started.addingTimeInterval(Double(i) / rate)
            if due.timeIntervalSinceNow > 0 { Thread.sleep(forTimeInterval: due.timeIntervalSinceNow) }
            let (status, json) = api.post("/v2/calls", ["to": "1555\(String(format: "%07d", i))", "timeout_secs": 60])
            if status == 200, let id = (json["data"] as? [String: Any])?["call_control_id"] as? String { ids.append(id) } else { refused["dial \(status)", default: 0] += 1 }
        }
        var streaming = 0
        for id in ids {
            guard api.waitActive(id, timeout: 30) else { refused["not answered", default: 0] += 1; continue }
            let (status, _) = api.post("/v2/calls/\(id)/actions/streaming_start", [
                "stream_url": "ws://127.0.0.1:\(appPort)/echo", "dialect": dialect, "stream_track": "inbound_track",
                "stream_bidirectional_mode": "rtp"])
            if status == 200 { streaming += 1 } else { refused["streaming_start \(status)", default: 0] += 1 }
        }
        print("  \(streaming)/\(calls) calls streaming after \(Int(Date().timeIntervalSince(started))) s")
        Thread.sleep(forTimeInterval: 3)  // every stream connected, status file rewritten

        guard let before = receiver.status(), let cpuBefore = receiver.probe.cpuSeconds() else {
            throw BenchError("the faxd under test stopped; its log: \(receiver.logPath)\n" + tail(of: receiver.logPath))
        }
        let appBefore = app.counts
        Thread.sleep(forTimeInterval: Double(hold))
        guard let after = receiver.status(), let cpuAfter = receiver.probe.cpuSeconds() else {
            throw BenchError("the faxd under test died during the window; its log: \(receiver.logPath)\n" + tail(of: receiver.logPath))
        }
        let appAfter = app.counts
        let rss = receiver.probe.residentBytes() ?? 0
        let legs = after.activeChannels
        let lateness = zip(after.shards, before.shards).map { StepResult.Lateness($0.latenessCounts.subtracting($1.latenessCounts)) }
        let cpuPerStreamSecond = (cpuAfter - cpuBefore) / Double(max(1, legs) * hold)
        let mediaPerSecond = Double(appAfter.media - appBefore.media) / Double(hold)
        let connections = appAfter.open

        for id in ids { _ = api.post("/v2/calls/\(id)/actions/hangup", [:]) }
        let sippResult = sipp.waitSynchronously()
        Thread.sleep(forTimeInterval: 2)  // streams stopped and counted
        let metrics = api.metrics(admin: admin)
        func metric(_ name: String) -> Int {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
        }

        print("| streams | legs with media in window | app media msgs/s in (expected \(legs * 50)) | CPU ms per stream-s | tick lateness p50/p99/max ms per shard | RSS per stream | frames dropped | app msgs ignored |")
        print("|---:|---:|---:|---:|---|---:|---:|---:|")
        print(String(format: "| %d | %d | %.0f | %.3f | %@ | %.0f KB | %d | %d |", streaming, legs, mediaPerSecond, cpuPerStreamSecond * 1000,
                     lateness.map(Report.lateness).joined(separator: " · "), Double(max(0, rss - idleRSS)) / 1024 / Double(max(1, legs)),
                     metric("faxd_media_stream_frames_dropped_total"), metric("faxd_media_stream_messages_ignored_total")))
        print("application: \(connections) connections; stream results: stopped \(metrics.contains("result=\"stopped\"") ? "\(metricLabel(metrics, "stopped"))" : "?"), failed \(metricLabel(metrics, "failed"))")
        if !refused.isEmpty { print("refused: " + refused.map { "\($0.value)x \($0.key)" }.joined(separator: ", ")) }
        print("SIPp exit \(sippResult.status); faxd log: \(receiver.logPath)")
        if streaming < calls || legs < calls { throw ExitCode(1) }
    }

    private func metricLabel(_ metrics: String, _ result: String) -> String {
        metrics.split(separator: "\n").first { $0.hasPrefix("faxd_media_streams_total{result=\"\(result)\"}") }.map { String($0.split(separator: " ").last ?? "?") } ?? "?"
    }
}

extension BenchAPI {
    /// The daemon's Prometheus text.
    func metrics(admin: String) -> String {
        guard var request = try? HTTPClient.Request(url: base + "/metrics", method: .GET) else { return "" }
        request.headers.add(name: "Authorization", value: "Bearer \(admin)")
        guard let response = try? client.execute(request: request, deadline: .now() + .seconds(30)).wait() else { return "" }
        return response.body.map { String(buffer: $0) } ?? ""
    }
}

/// The benchmark's application: a WebSocket server (NIO's upgrader and frame codec) that sends
/// every inbound-track `media` payload straight back as a `media` message, answers pings, and
/// counts what it saw. Dialect-neutral: its replies carry no stream id.
final class EchoApplication: @unchecked Sendable {
    struct Counts { var open = 0; var media = 0 }
    final class Tally: Sendable { let counts = Mutex(Counts()) }
    private let channel: any Channel
    private let state = Tally()

    init(port: Int) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 20,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { [state] channel, _ in
                state.counts.withLock { $0.open += 1 }
                return channel.pipeline.addHandler(EchoHandler(state: state))
            })
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: port).wait()
    }

    var counts: Counts { state.counts.withLock { $0 } }

    func stop() { try? channel.close().wait() }

    final class EchoHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let state: Tally
        init(state: Tally) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                var data = frame.unmaskedData
                guard let text = data.readString(length: data.readableBytes), text.contains(#""event":"media""#),
                      text.contains(#""track":"inbound""#), let open = text.range(of: #""payload":""#),
                      let close = text[open.upperBound...].firstIndex(of: "\"") else { return }
                state.counts.withLock { $0.media += 1 }
                let reply = #"{"event":"media","media":{"payload":""# + text[open.upperBound..<close] + #""}}"#
                let buffer = context.channel.allocator.buffer(string: reply)
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
            case .ping:
                var data = frame.unmaskedData
                let payload = data.readSlice(length: data.readableBytes) ?? context.channel.allocator.buffer(capacity: 0)
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
            case .connectionClose:
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)))
                    .whenComplete { _ in context.close(promise: nil) }
            default:
                break
            }
        }
    }
}
