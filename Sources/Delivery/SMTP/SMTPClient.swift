import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOExtras
import ServiceSettings

/// A failed SMTP session: the step, the server's reply code (if any) and its text.
public struct SMTPError: Error, CustomStringConvertible, Sendable {
    public var step: String
    public var code: Int?
    public var text: String
    public var description: String { "SMTP \(step): " + (code.map { "\($0) " } ?? "") + text }
}

/// Sends mail to one SMTP server (RFC 5321) over SwiftNIO: EHLO, STARTTLS through swift-nio-ssl
/// when offered (or required), AUTH PLAIN or LOGIN (RFC 4954), MAIL/RCPT/DATA with dot-stuffing.
/// One connection per message: fax mail is a few messages a minute, not a stream.
public struct SMTPClient: Sendable {
    public var settings: SMTPSettings

    public init(settings: SMTPSettings) { self.settings = settings }

    /// Sends `message`; throws `SMTPError` naming the step that failed.
    public func send(_ message: MailMessage) async throws {
        guard let host = settings.host else { throw SMTPError(step: "configuration", code: nil, text: "no delivery.smtp.host") }
        let timeout = settings.timeoutSeconds
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await session(host: host, message: message) }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw SMTPError(step: "session", code: nil, text: "no answer within \(timeout) s")
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func session(host: String, message: MailMessage) async throws {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(Int64(min(settings.timeoutSeconds, 10))))
                .connect(host: host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SMTPError(step: "connect", code: nil, text: "\(host):\(settings.port): \(error)")
        }
        try await channel.executeThenClose { inbound, outbound in
            var conversation = Conversation(lines: inbound.makeAsyncIterator(), outbound: outbound)
            try await conversation.expect(220, step: "greeting")
            var extensions = try await conversation.command("EHLO \(settings.heloName)", expect: 250, step: "EHLO")
            let offersTLS = extensions.contains { $0.uppercased() == "STARTTLS" }
            if settings.startTLS == .required && !offersTLS {
                throw SMTPError(step: "STARTTLS", code: nil, text: "the server does not offer STARTTLS and delivery.smtp.starttls is required")
            }
            var secured = false
            if offersTLS && settings.startTLS != .never {
                _ = try await conversation.command("STARTTLS", expect: 220, step: "STARTTLS")
                try await startTLS(on: channel.channel, host: host)
                secured = true
                extensions = try await conversation.command("EHLO \(settings.heloName)", expect: 250, step: "EHLO after STARTTLS")
            }
            if let username = settings.username, let password = settings.password {
                // Credentials never cross in clear because a server (or someone in between) left
                // STARTTLS out; `starttls: never` is the operator saying the link is trusted.
                guard secured || settings.startTLS == .never else {
                    throw SMTPError(step: "AUTH", code: nil, text: "the server did not offer STARTTLS; not sending the password in clear (set delivery.smtp.starttls: never for a trusted link)")
                }
                let mechanisms = extensions.first { $0.uppercased().hasPrefix("AUTH ") }
                    .map { $0.uppercased().split(separator: " ").dropFirst().map(String.init) } ?? []
                if mechanisms.contains("PLAIN") {
                    let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
                    _ = try await conversation.command("AUTH PLAIN \(token)", expect: 235, step: "AUTH PLAIN", secret: true)
                } else if mechanisms.contains("LOGIN") {
                    _ = try await conversation.command("AUTH LOGIN", expect: 334, step: "AUTH LOGIN")
                    _ = try await conversation.command(Data(username.utf8).base64EncodedString(), expect: 334, step: "AUTH LOGIN user", secret: true)
                    _ = try await conversation.command(Data(password.utf8).base64EncodedString(), expect: 235, step: "AUTH LOGIN password", secret: true)
                } else {
                    throw SMTPError(step: "AUTH", code: nil, text: "credentials are configured but the server offers neither AUTH PLAIN nor LOGIN (offered: \(mechanisms.joined(separator: " ")))")
                }
            }
            _ = try await conversation.command("MAIL FROM:<\(try Self.address(message.from))>", expect: 250, step: "MAIL FROM")
            for recipient in message.to {
                _ = try await conversation.command("RCPT TO:<\(try Self.address(recipient))>", expect: 250, step: "RCPT TO", also: [251])
            }
            _ = try await conversation.command("DATA", expect: 354, step: "DATA")
            try await conversation.send(Self.dotStuffed(message.rendered()) + ".\r\n")
            try await conversation.expect(250, step: "end of data")
            _ = try? await conversation.command("QUIT", expect: 221, step: "QUIT")
        }
    }

    /// Puts TLS under the line decoder after the server's 220 to STARTTLS (swift-nio-ssl).
    private func startTLS(on channel: any Channel, host: String) async throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile = settings.caFile {
            configuration.trustRoots = .file(caFile)
        }
        let context = try NIOSSLContext(configuration: configuration)
        // SNI takes names only; for an IP literal the certificate is checked against the address.
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        try await channel.eventLoop.submit {
            let handler = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }.get()
    }

    /// The bare address of "Name <user@host>" or "user@host".
    static func address(_ text: String) throws -> String {
        guard text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw SMTPError(step: "address", code: nil, text: "an address contains control characters (CR, LF, ...)")
        }
        var address = text.trimmingCharacters(in: .whitespaces)
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            address = String(text[text.index(after: open)..<close])
        }
        // No CR, LF or other control characters: they would inject SMTP commands or headers.
        guard !address.isEmpty, address.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" }) else {
            throw SMTPError(step: "address", code: nil, text: "'\(address.prefix(80).unicodeScalars.map { $0.value < 0x20 ? "?" : String($0) }.joined())' is not a usable email address")
        }
        return address
    }

    /// RFC 5321 4.5.2: a line starting with "." gets another ".".
    static func dotStuffed(_ text: String) -> String {
        text.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }
            .joined(separator: "\r\n")
    }

    /// Reply lines in, commands out.
    struct Conversation {
        var lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

        mutating func send(_ text: String) async throws {
            try await outbound.write(ByteBuffer(string: text))
        }

        /// Sends `line`, reads the reply; returns its text lines (after the code) on `code`.
        mutating func command(_ line: String, expect code: Int, step: String, also: [Int] = [], secret: Bool = false) async throws -> [String] {
            try await send(line + "\r\n")
            return try await expect(code, step: step, also: also)
        }

        /// Reads one (possibly multi-line, "250-...") reply and checks its code.
        @discardableResult
        mutating func expect(_ code: Int, step: String, also: [Int] = []) async throws -> [String] {
            var texts: [String] = []
            while true {
                guard var buffer = try await lines.next() else {
                    throw SMTPError(step: step, code: nil, text: "the server closed the connection")
                }
                let line = buffer.readString(length: buffer.readableBytes) ?? ""
                guard line.count >= 3, let reply = Int(line.prefix(3)) else {
                    throw SMTPError(step: step, code: nil, text: "unreadable reply '\(line.prefix(80))'")
                }
                texts.append(String(line.dropFirst(4)))
                if line.count > 3 && line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
                guard reply == code || also.contains(reply) else {
                    throw SMTPError(step: step, code: reply, text: texts.joined(separator: " / "))
                }
                return texts
            }
        }
    }
}
