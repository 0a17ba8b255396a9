import Engine
import FaxdTesting
import Foundation
import SIP
import Testing

/// Numbers a send may dial (issue 18: a 5,000-digit number was dialled, and nothing kept sends
/// away from emergency or premium-rate numbers).
@Suite struct DestinationPolicyTests {
    @Test func numbersLongerThanE164AreRefusedWithAShortReason() {
        #expect(PhoneNumber.normalize("+1 (555) 765-4321") == "15557654321")
        #expect(PhoneNumber.normalize(String(repeating: "1", count: 15)) != nil)
        #expect(PhoneNumber.normalize(String(repeating: "1", count: 16)) == nil)
        let huge = String(repeating: "5", count: 5000)
        #expect(PhoneNumber.normalize(huge) == nil)
        let problem = PhoneNumber.problem(with: huge)
        #expect(problem.count < 200 && problem.contains("5000 digits") && problem.contains("at most 15"), "\(problem)")
    }

    @Test func theDefaultPolicyRefusesEmergencyAndPremiumRateNumbers() {
        let policy = DestinationPolicy()
        for number in ["911", "112", "999", "19005551234", "19765551234", "449012345678", "881612345678"] {
            #expect(policy.refusal(number: number, account: "15551110001") != nil, "\(number)")
        }
        for number in ["15557654321", "442071234567", "4930123456", "61212345678"] {
            #expect(policy.refusal(number: number, account: "15551110001") == nil, "\(number)")
        }
    }

    @Test func accountAndGlobalRulesFromTheConfigurationFile() throws {
        let config = try FaxdConfiguration.parse(yaml: """
            processing:
              destinations:
                allow_prefixes: ["1", "44"]
                accounts:
                  "+1 555 111 0001":
                    allow_prefixes: ["1900"]
                    deny_prefixes: ["1212"]
            """)
        let policy = config.processing.destinations
        #expect(policy.global.denyPrefixes == DestinationPolicy.defaultDenied, "the defaults stay unless replaced")
        #expect(policy.refusal(number: "4930123456", account: "15552220002")?.contains("outside the destinations allowed") == true)
        #expect(policy.refusal(number: "442071234567", account: "15552220002") == nil)
        #expect(policy.refusal(number: "19005551234", account: "15552220002") != nil, "premium for everyone else")
        #expect(policy.refusal(number: "19005551234", account: "15551110001") == nil, "cleared for this account")
        #expect(policy.refusal(number: "12125551234", account: "15551110001")?.contains("account 15551110001") == true)
        #expect(throws: ConfigurationError.self) {
            try FaxdConfiguration.parse(yaml: "processing:\n  destinations:\n    deny_prefixes: [\"9x\"]\n")
        }
        #expect(throws: ConfigurationError.self) {
            try FaxdConfiguration.parse(yaml: "processing:\n  destinations:\n    denied: [\"9\"]\n")
        }
    }

    @Test func theAPIRefusesASendToAnEmergencyNumberAndAHugeNumber() async throws {
        let api = try await TestAPI.sending("api-destinations")
        defer { api.stop() }
        let pdf = [UInt8](FileManager.default.contents(atPath: Fixtures.path("three-page-light.pdf"))!)
        _ = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: api.alice.key, body: pdf)
        func send(_ numbers: String) async throws -> HTTPReply {
            try await api.request(.POST, "/api/fax/send/", token: api.alice.key,
                                  body: Array(#"{"filename":"doc.pdf","numbers":"\#(numbers)"}"#.utf8))
        }
        let emergency = try await send("911")
        #expect(emergency.status == 403 && emergency.errorCode == "destination_refused", "\(emergency.text)")
        let huge = try await send(String(repeating: "5", count: 5000))
        #expect(huge.status == 400 && huge.text.count < 500 && huge.text.contains("at most 15"), "\(huge.text.prefix(300))")
        #expect(try api.service.store.read { try $0.transmissions(direction: .outbound) }.isEmpty, "nothing was queued")
        let ok = try await send("15557654321")
        #expect(ok.status == 202, "\(ok.text)")
    }
}
