import SIP
import Testing

@Suite struct PhoneNumberTests {
    @Test(arguments: [
        ("15551234567", "15551234567"), ("+15551234567", "15551234567"), ("+1-555-123-4567", "15551234567"),
        ("+1 (555) 123.4567", "15551234567"), ("15551234567;npdi;rn=+15550000000", "15551234567"),
        ("tel:+441632960000", "441632960000"),
    ])
    func normalises(raw: String, expected: String) {
        #expect(PhoneNumber.normalize(raw) == expected)
    }

    @Test(arguments: ["faxd", "12ab", "*99", "", "+", "555#1"])
    func rejectsNonNumbers(raw: String) {
        #expect(PhoneNumber.normalize(raw) == nil)
        #expect(PhoneNumber.problem(with: raw).contains("'\(raw)'"))
    }
}

@Suite struct AddressRangeTests {
    @Test func matchesIPv4Blocks() throws {
        let block = try AddressRange("198.51.100.0/24")
        #expect(block.contains("198.51.100.7"))
        #expect(!block.contains("198.51.101.7"))
        #expect(block.contains("::ffff:198.51.100.9"), "IPv4-mapped IPv6 sources match IPv4 blocks")
        #expect(try AddressRange("203.0.113.5").contains("203.0.113.5"))
        #expect(!(try AddressRange("203.0.113.5")).contains("203.0.113.6"))
        #expect(try AddressRange("0.0.0.0/0").contains("192.0.2.1"))
        #expect(try AddressRange("10.0.0.0/9").contains("10.127.255.255"))
        #expect(!(try AddressRange("10.0.0.0/9")).contains("10.128.0.0"))
    }

    @Test func matchesIPv6Blocks() throws {
        let block = try AddressRange("2001:db8::/32")
        #expect(block.contains("2001:db8:1::5"))
        #expect(!block.contains("2001:db9::5"))
        #expect(!block.contains("198.51.100.7"))
    }

    @Test(arguments: ["198.51.100.0/33", "not-an-ip", "198.51.100/24", "2001:db8::/129", "1.2.3.4/x"])
    func rejectsBadText(text: String) {
        #expect(throws: SIPError.self) { try AddressRange(text) }
    }
}
