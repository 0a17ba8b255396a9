@testable import Delivery
import FaxdTesting
import Foundation
import Synchronization
import Testing

/// Where webhooks may go (issue 18): the address classification, one resolution whose address
/// the connection then uses, and URLs with their credentials masked.
@Suite struct WebhookTargetTests {
    /// Address -> internal (with a word the reason must contain) or public (nil).
    static let table: [(String, String?)] = [
        // IPv4 public
        ("8.8.8.8", nil), ("1.1.1.1", nil), ("93.184.216.34", nil), ("100.63.255.255", nil), ("100.128.0.0", nil),
        ("172.15.255.255", nil), ("172.32.0.0", nil), ("192.0.1.255", nil), ("192.0.3.0", nil), ("198.17.255.255", nil),
        ("198.20.0.0", nil), ("198.51.99.255", nil), ("198.51.101.0", nil), ("203.0.112.255", nil), ("203.0.114.0", nil),
        ("223.255.255.255", nil), ("11.0.0.0", nil), ("126.255.255.255", nil), ("128.0.0.0", nil), ("169.253.255.255", nil),
        // IPv4 internal
        ("0.0.0.0", "this network"), ("0.1.2.3", "this network"), ("10.0.0.1", "private"), ("10.255.255.255", "private"),
        ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.255", "carrier-grade NAT"), ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"), ("169.254.169.254", "link-local"), ("172.16.0.1", "private"), ("172.31.255.255", "private"),
        ("192.0.0.8", "IETF"), ("192.0.2.1", "documentation"), ("192.88.99.1", "6to4 relay"), ("192.168.1.1", "private"),
        ("198.18.0.1", "benchmarking"), ("198.19.255.255", "benchmarking"), ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"), ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"), ("255.255.255.255", "broadcast"),
        // IPv6 public
        ("2606:4700:4700::1111", nil), ("2a00:1450:4001:81b::200e", nil), ("2001:4860:4860::8888", nil),
        ("2002:0808:0808::1", nil), ("64:ff9b::808:808", nil), ("::ffff:8.8.8.8", nil), ("::8.8.8.8", nil),
        // IPv6 internal
        ("::", "unspecified"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "link-local"), ("::127.0.0.1", "loopback"), ("::10.0.0.1", "private"),
        ("::ffff:0.0.0.0", "this network"), ("::ffff:192.0.2.1", "documentation"), ("64:ff9b::127.0.0.1", "NAT64"),
        ("64:ff9b::a9fe:a9fe", "link-local"), ("64:ff9b::192.168.0.1", "private"), ("64:ff9b:1::1", "NAT64"),
        ("2002:7f00:0001::1", "6to4"), ("2002:0a00:0001::", "private"), ("fe80::1", "link-local"), ("febf:ffff::1", "link-local"),
        ("fec0::1", "site-local"), ("fc00::1", "unique local"), ("fd12:3456:789a::1", "unique local"), ("ff02::1", "multicast"),
        ("ff05::1:3", "multicast"), ("2001:db8::1", "documentation"), ("2001:db8:ffff::1", "documentation"),
        ("3fff::1", "documentation"), ("100::1", "discard"), ("2001::1", "Teredo"), ("2001:2::1", "IETF"),
        ("::2", "this network"), ("4000::1", "outside global unicast"), ("e000::1", "outside global unicast"),
    ]

    @Test func addressesAreClassified() throws {
        for (text, expected) in Self.table {
            let bytes = try #require(WebhookTarget.parse(text), "\(text) parses")
            let range = WebhookTarget.internalRange(of: bytes)
            if let expected {
                #expect(range?.localizedCaseInsensitiveContains(expected) == true, "\(text): \(range ?? "public"), expected \(expected)")
            } else {
                #expect(range == nil, "\(text) is public, not \(range ?? "")")
            }
        }
    }

    @Test func theMachinesOwnAddressesAreInternalEvenWhenPublic() throws {
        let own = try #require(WebhookTarget.parse("93.184.216.34"))
        #expect(WebhookTarget.internalRange(of: own) == nil)
        #expect(WebhookTarget.internalRange(of: own, localAddresses: [own]) == "an address of this machine")
        let ownV6 = try #require(WebhookTarget.parse("2606:4700::6810:84e5"))
        #expect(WebhookTarget.internalRange(of: ownV6, localAddresses: [ownV6]) == "an address of this machine")
        // The same IPv4 address inside an IPv6 form is the same machine.
        let mapped = try #require(WebhookTarget.parse("::ffff:93.184.216.34"))
        #expect(WebhookTarget.internalRange(of: mapped, localAddresses: [own])?.contains("this machine") == true)
        // getifaddrs: the loopback is there, and every address of this machine is refused.
        let local = WebhookTarget.localAddresses()
        #expect(local.contains([127, 0, 0, 1]), "\(local.map(WebhookTarget.text))")
        for address in local {
            #expect(WebhookTarget.internalRange(of: address, localAddresses: local) != nil, "\(WebhookTarget.text(address))")
        }
    }

    @Test func aNameIsRefusedWithTheAddressItResolvesTo() throws {
        #expect(throws: WebhookTarget.Refusal.self) { try WebhookTarget.resolveBlocking(host: "localhost", port: 80) }
        do throws(WebhookTarget.Refusal) {
            _ = try WebhookTarget.resolveBlocking(host: "localhost", port: 80)
        } catch {
            #expect(error.host == "localhost" && (error.address == "127.0.0.1" || error.address == "::1"), "\(error)")
            #expect(error.description.contains("localhost resolves to") && error.description.contains("allow_private_targets"), "\(error)")
        }
        for literal in ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "0.0.0.0"] {
            #expect(throws: WebhookTarget.Refusal.self, "\(literal)") { try WebhookTarget.resolveBlocking(host: literal, port: 80) }
        }
        // Each address of this machine, by its literal.
        for address in WebhookTarget.localAddresses() where address.count == 4 {
            #expect(throws: WebhookTarget.Refusal.self) { try WebhookTarget.resolveBlocking(host: WebhookTarget.text(address), port: 80) }
        }
        let resolved = try WebhookTarget.resolveBlocking(host: "8.8.8.8", port: 443)
        #expect(resolved == WebhookTarget.Resolved(host: "8.8.8.8", address: "8.8.8.8"))
        #expect(WebhookTarget.refusalAtCreationBlocking(url: URL(string: "https://no-such-host.invalid/x")!) == nil,
                "a name that does not resolve yet is checked at delivery")
        #expect(WebhookTarget.refusalAtCreationBlocking(url: URL(string: "http://[::ffff:10.0.0.1]:8080/x")!)?.address == "::ffff:10.0.0.1")
    }

    /// The connection goes to the address the check saw: the resolver here says 127.0.0.1 for a
    /// name no DNS knows, and the request reaches the receiver with that name in Host. Before,
    /// the HTTP client resolved the name a second time (a rebinding DNS server answers the check
    /// with a public address and the connection with an internal one).
    @Test func theConnectionGoesToTheCheckedAddress() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook-pin") + "/requests.jsonl"
        let receiver = try ScriptServer("slow_webhook_receiver.py", [String(port), log, "0"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let lookups = Counter()
        let sender = WebhookSender(timeoutSeconds: 10, userAgent: "faxd-test", allowPrivateTargets: false) { host, _ in
            lookups.add()
            return WebhookTarget.Resolved(host: host, address: "127.0.0.1")
        }
        let result = await sender.deliver(url: "http://rebind.invalid:\(port)/fast", body: Array("{}".utf8), id: "e-pin", secret: "whsec_AAAA")
        await sender.shutdown()
        #expect(result.succeeded, "\(result)")
        #expect(lookups.value == 1)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("\"host\": \"rebind.invalid:\(port)\""), "\(text)")
    }

    @Test func credentialsInURLsAreMasked() {
        let cases: [(String, String)] = [
            ("https://user:pa55@crm.example/fax", "https://***@crm.example/fax"),
            ("https://token@crm.example", "https://***@crm.example"),
            ("http://u:p@[::1]:8080/x?y=1", "http://***@[::1]:8080/x?y=1"),
            ("https://crm.example/hook?token=abc&tenant=7", "https://crm.example/hook?token=***&tenant=7"),
            ("https://crm.example/hook?api_key=k&sig=s&X-Amz-Signature=deadbeef#frag", "https://crm.example/hook?api_key=***&sig=***&X-Amz-Signature=***#frag"),
            ("https://crm.example/hook?id=a1b2c3d4e5f6a7b8c9d0", "https://crm.example/hook?id=***"),
            ("https://crm.example/hook?page=2&name=acme", "https://crm.example/hook?page=2&name=acme"),
            ("https://crm.example/path@with/at", "https://crm.example/path@with/at"),
            ("not a url user:pass@host", "not a url user:pass@host"),
            ("error: connect to https://a:b@h.example failed", "error: connect to https://***@h.example failed"),
        ]
        for (url, shown) in cases {
            #expect(WebhookURL.redacted(url) == shown, "\(url)")
        }
    }
}

/// A count shared with a Sendable closure.
final class Counter: Sendable {
    private let count = Mutex<Int>(0)
    /// One more.
    func add() { count.withLock { $0 += 1 } }
    /// So far.
    var value: Int { count.withLock { $0 } }
}
