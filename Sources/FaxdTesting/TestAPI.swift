import AsyncHTTPClient
import Engine
import Foundation
import HTTPAPI
import Logging
import NIOCore
import NIOHTTP1
import Processing
import SIP
import Store

/// A `TestService` with the HTTP API listening on a port of its own, and two accounts with keys
/// (so every test can check that one tenant never sees the other's faxes).
public final class TestAPI: Sendable {
    public let service: TestService
    public let server: APIServer
    public let port: Int
    public let adminToken = "test-admin-token-0123456789"
    /// Fax number and API key of the two accounts.
    public let alice: (number: String, key: String)
    public let bob: (number: String, key: String)

    /// A test API whose sends have a trunk to go out on (an address nobody answers, and an hour's
    /// back-off before a retry), for tests of what is queued rather than what is dialled.
    public static func sending(_ label: String, configure: @escaping (inout FaxdConfiguration) -> Void = { _ in }) async throws -> TestAPI {
        try await TestAPI(label: label) {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:9")]
            $0.processing.retry.delays[.congestion] = 3600
            configure(&$0)
        }
    }

    public init(label: String, configure: @escaping (inout FaxdConfiguration) -> Void = { _ in }) async throws {
        let port = TestPorts.port()
        let token = adminToken
        var keys: [String] = []
        service = try TestService(label: label, configure: {
            $0.http.listenHost = "127.0.0.1"
            $0.http.listenPort = port
            $0.http.adminToken = token
            configure(&$0)
        }, provision: { db in
            for number in ["15551110001", "15552220002"] {
                let account = try db.insert(FaxAccount(faxNumber: number, email: "\(number)@example.com"))
                keys.append(try APIKeys.create(accountID: account.id, in: db))
            }
        })
        alice = ("15551110001", keys[0])
        bob = ("15552220002", keys[1])
        var logger = Logger(label: "faxd-http-\(label)")
        logger.logLevel = ProcessInfo.processInfo.environment["FAXD_TEST_LOG"] == nil ? .critical : .debug
        server = APIServer(service: service.service, logger: logger)
        try await server.start()
        self.port = server.boundPort ?? port
    }

    public func stop() {
        server.stop()
        service.stop()
    }

    /// One request; `token` goes in `Authorization: Bearer`.
    public func request(_ method: HTTPMethod, _ path: String, token: String? = nil, headers: [(String, String)] = [],
                        body: [UInt8]? = nil) async throws -> HTTPReply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        var buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return HTTPReply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                         body: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// A multipart/form-data body with text fields and one file part.
    public static func multipart(fields: [(String, String)], file: (name: String, filename: String, type: String, data: [UInt8])?) -> (body: [UInt8], contentType: String) {
        let boundary = "faxdtest\(UUID().uuidString.prefix(8))"
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let file {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\nContent-Type: \(file.type)\r\n\r\n".utf8)
            body += file.data + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}

/// An HTTP answer.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// An answer made by a test's own client.
    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    /// `error.code` of an error answer.
    public var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
    public var errorMessage: String? { (json?["error"] as? [String: Any])?["message"] as? String }
    public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}
