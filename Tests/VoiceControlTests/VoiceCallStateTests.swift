@testable import Processing
import Store
import Testing

/// The webhooks among `actions`.
func emitted(_ actions: [VoiceCallState.Action]) -> [VoiceWebhookEvent] {
    actions.compactMap { if case .emit(let event) = $0 { event } else { nil } }
}

/// Applies `events` in order; returns every action.
func run(_ machine: inout VoiceCallState, _ events: [VoiceCallState.Event]) -> [VoiceCallState.Action] {
    events.flatMap { machine.handle($0) }
}

/// An outbound call that was answered.
func activeOutbound() -> VoiceCallState {
    var call = VoiceCallState(direction: .outbound)
    _ = run(&call, [.dialed, .ringing(sipStatus: 180), .answered])
    return call
}

/// An inbound call that was answered.
func activeInbound() throws -> VoiceCallState {
    var call = VoiceCallState(direction: .inbound)
    _ = call.handle(.offered)
    _ = try call.handle(.answer)
    _ = call.handle(.answered)
    return call
}

@Suite struct VoiceCallStateTests {
    @Test func outboundLifecycleEmitsInitiatedAnsweredHangupOnceEach() {
        var call = VoiceCallState(direction: .outbound, clientState: "YWJj")
        #expect(call.state == .dialing && !call.initiated && call.clientState == "YWJj")
        #expect(call.handle(.dialed) == [.emit(.initiated), .armNoAnswerTimer])
        #expect(call.handle(.dialed) == [], "a second dialed says nothing")
        #expect(call.handle(.ringing(sipStatus: 100)) == [], "100 Trying is not ringing")
        #expect(call.state == .dialing)
        #expect(call.handle(.ringing(sipStatus: 180)) == [.changeState(.ringing)])
        #expect(call.handle(.ringing(sipStatus: 183)) == [], "already ringing")
        #expect(call.handle(.answered) == [.disarmNoAnswerTimer, .changeState(.active), .emit(.answered)])
        #expect(call.state == .active)
        #expect(call.handle(.answered) == [], "a retransmitted 200 OK changes nothing")
        #expect(call.handle(.noAnswerTimeout) == [], "a timer that raced the answer changes nothing")
        let end = VoiceHangup(cause: .normalClearing, source: .callee, sipCause: "unspecified")
        #expect(call.handle(.farEndHangup) == [.changeState(.ended), .emit(.hangup(end))])
        #expect(call.state == .ended && call.hangup == end)
        #expect(call.handle(.farEndHangup) == [])
        #expect(call.handle(.failed(sipStatus: 481, reason: "gone")) == [])
        #expect(call.handle(.localHangup(.command)) == [])
    }

    @Test func answeredStraightFromDialingWith183First() {
        var call = VoiceCallState(direction: .outbound)
        let actions = run(&call, [.dialed, .ringing(sipStatus: 183), .answered, .localHangup(.command)])
        #expect(emitted(actions) == [.initiated, .answered, .hangup(VoiceHangup(cause: .normalClearing, source: .caller, sipCause: "unspecified"))])
        #expect(actions.contains(.sendBye))
    }

    @Test func inboundLifecycle() throws {
        var call = VoiceCallState(direction: .inbound)
        #expect(call.state == .ringing)
        #expect(call.handle(.offered) == [.emit(.initiated)])
        #expect(call.handle(.offered) == [])
        #expect(call.handle(.dialed) == [], "dialed is for outbound calls")
        #expect(call.handle(.ringing(sipStatus: 180)) == [], "inbound calls do not receive 180")
        #expect(try call.handle(.answer) == [.sendAnswer])
        #expect(call.answering && call.state == .ringing, "answered only once acknowledged")
        #expect(call.handle(.answered) == [.changeState(.active), .emit(.answered)], "no timer on inbound")
        #expect(!call.answering)
        let actions = call.handle(.farEndHangup)
        #expect(emitted(actions) == [.hangup(VoiceHangup(cause: .normalClearing, source: .caller, sipCause: "unspecified"))])
    }

    @Test func hangupBeforeInitiatedStillEmitsInitiatedFirst() {
        var call = VoiceCallState(direction: .outbound)
        let actions = call.handle(.failed(sipStatus: 503, reason: "Service Unavailable"))
        #expect(emitted(actions) == [.initiated, .hangup(VoiceHangup(cause: .unspecified, source: .callee, sipCause: "503"))])
    }

    // MARK: hangup_cause per way of ending

    @Test func byeFromEachSide() throws {
        var out = activeOutbound()
        #expect(emitted(out.handle(.farEndHangup)) == [.hangup(VoiceHangup(cause: .normalClearing, source: .callee, sipCause: "unspecified"))])
        out = activeOutbound()
        #expect(try out.handle(.hangup) == [.sendBye, .changeState(.ended),
                                            .emit(.hangup(VoiceHangup(cause: .normalClearing, source: .caller, sipCause: "unspecified")))])
        var inbound = try activeInbound()
        #expect(emitted(inbound.handle(.farEndHangup)) == [.hangup(VoiceHangup(cause: .normalClearing, source: .caller, sipCause: "unspecified"))])
        inbound = try activeInbound()
        #expect(emitted(try inbound.handle(.hangup)) == [.hangup(VoiceHangup(cause: .normalClearing, source: .callee, sipCause: "unspecified"))])
    }

    @Test func cancelBeforeAnswer() throws {
        // The far end gives up on an inbound call.
        var inbound = VoiceCallState(direction: .inbound)
        _ = inbound.handle(.offered)
        #expect(inbound.handle(.cancelledBeforeAnswer(by: .remote)) == [.changeState(.ended),
                .emit(.hangup(VoiceHangup(cause: .originatorCancel, source: .caller, sipCause: "487")))])
        // A BYE on an early inbound dialog is the same.
        var early = VoiceCallState(direction: .inbound)
        _ = early.handle(.offered)
        #expect(emitted(early.handle(.farEndHangup)) == [.hangup(VoiceHangup(cause: .originatorCancel, source: .caller, sipCause: "487"))])
        // The application hangs up its own ringing outbound call: CANCEL.
        var out = VoiceCallState(direction: .outbound)
        _ = run(&out, [.dialed, .ringing(sipStatus: 180)])
        #expect(try out.handle(.hangup) == [.sendCancel, .disarmNoAnswerTimer, .changeState(.ended),
                                            .emit(.hangup(VoiceHangup(cause: .originatorCancel, source: .caller, sipCause: "487")))])
        // Reported as an event by the SIP side instead.
        var reported = VoiceCallState(direction: .outbound)
        _ = reported.handle(.dialed)
        #expect(emitted(reported.handle(.cancelledBeforeAnswer(by: .local)))
                == [.hangup(VoiceHangup(cause: .originatorCancel, source: .caller, sipCause: "487"))])
        #expect(reported.handle(.cancelledBeforeAnswer(by: .local)) == [])
        // A 200 OK that crossed the CANCEL is answered with BYE and no webhook.
        #expect(reported.handle(.answered) == [.sendBye])
        #expect(reported.state == .ended)
        var answeredThenCancel = activeOutbound()
        #expect(answeredThenCancel.handle(.cancelledBeforeAnswer(by: .local)) == [], "too late to cancel")
    }

    @Test func failureResponsesMapLikeTelnyx() {
        let table: [(Int, VoiceCall.HangupCause)] = [
            (486, .userBusy), (600, .userBusy), (480, .timeout), (408, .timeout), (603, .callRejected), (403, .callRejected),
            (607, .callRejected), (404, .notFound), (484, .notFound), (410, .notFound), (604, .notFound), (487, .originatorCancel),
            (500, .unspecified), (503, .unspecified), (488, .unspecified),
        ]
        for (status, cause) in table {
            #expect(VoiceHangup.cause(forSIPStatus: status) == cause, "SIP \(status)")
            var call = VoiceCallState(direction: .outbound)
            _ = run(&call, [.dialed, .ringing(sipStatus: 180)])
            let actions = call.handle(.failed(sipStatus: status, reason: "x"))
            #expect(actions == [.disarmNoAnswerTimer, .changeState(.ended),
                                .emit(.hangup(VoiceHangup(cause: cause, source: .callee, sipCause: String(status))))], "SIP \(status)")
        }
    }

    @Test func failureAfterAnswerEndsTheCallWithUnknownSource() {
        var call = activeOutbound()
        #expect(emitted(call.handle(.failed(sipStatus: 408, reason: "re-INVITE timed out")))
                == [.hangup(VoiceHangup(cause: .timeout, source: .unknown, sipCause: "408"))])
    }

    @Test func noAnswerTimer() {
        var out = VoiceCallState(direction: .outbound)
        _ = run(&out, [.dialed, .ringing(sipStatus: 180)])
        #expect(out.handle(.noAnswerTimeout) == [.sendCancel, .disarmNoAnswerTimer, .changeState(.ended),
                                                 .emit(.hangup(VoiceHangup(cause: .timeout, source: .caller, sipCause: "unspecified")))])
        #expect(out.handle(.noAnswerTimeout) == [])
        #expect(out.handle(.failed(sipStatus: 487, reason: "Request Terminated")) == [], "the 487 to our CANCEL says nothing more")
        var inbound = VoiceCallState(direction: .inbound)
        _ = inbound.handle(.offered)
        #expect(inbound.handle(.noAnswerTimeout) == [.sendReject(sipStatus: 480), .changeState(.ended),
                                                     .emit(.hangup(VoiceHangup(cause: .timeout, source: .callee, sipCause: "unspecified")))])
    }

    @Test func localHangupReasons() {
        var limit = activeOutbound()
        #expect(emitted(limit.handle(.localHangup(.timeLimit))) == [.hangup(VoiceHangup(cause: .timeLimit, source: .caller, sipCause: "unspecified"))])
        var media = activeOutbound()
        #expect(media.handle(.localHangup(.mediaTimeout)).first == .sendBye)
        #expect(media.hangup?.cause == .unspecified)
        var stopping = VoiceCallState(direction: .inbound)
        _ = stopping.handle(.offered)
        #expect(stopping.handle(.localHangup(.shutdown)) == [.sendReject(sipStatus: 480), .changeState(.ended),
                                                             .emit(.hangup(VoiceHangup(cause: .unspecified, source: .callee, sipCause: "480")))])
    }

    @Test func hangupSourceIsSeenFromTheCall() {
        #expect(VoiceCallState(direction: .outbound).source(of: .local) == .caller)
        #expect(VoiceCallState(direction: .outbound).source(of: .remote) == .callee)
        #expect(VoiceCallState(direction: .inbound).source(of: .local) == .callee)
        #expect(VoiceCallState(direction: .inbound).source(of: .remote) == .caller)
    }

    /// Whatever order the SIP side reports things in, each lifecycle webhook comes at most once
    /// and in order (initiated before answered before hangup).
    @Test func lifecycleWebhooksAreNeverRepeatedOrReordered() {
        let events: [VoiceCallState.Event] = [.dialed, .offered, .ringing(sipStatus: 180), .answered, .farEndHangup,
                                              .localHangup(.command), .cancelledBeforeAnswer(by: .local), .cancelledBeforeAnswer(by: .remote),
                                              .failed(sipStatus: 486, reason: "Busy"), .noAnswerTimeout, .recordingStopped]
        var generator = SystemRandomNumberGenerator()
        for direction in VoiceCall.Direction.allCases {
            for _ in 0..<300 {
                var call = VoiceCallState(direction: direction)
                let sequence = (0..<8).map { _ in events.randomElement(using: &generator)! }
                let types = emitted(run(&call, sequence)).map(\.type)
                for type in [VoiceEventType.initiated, .answered, .hangup] {
                    #expect(types.filter { $0 == type }.count <= 1, "\(sequence)")
                }
                let order = types.map { [VoiceEventType.initiated, .answered, .hangup].firstIndex(of: $0)! }
                #expect(order == order.sorted(), "\(sequence)")
                if types.contains(.hangup) { #expect(types.first == .initiated && call.state == .ended, "\(sequence)") }
                if types.contains(.answered) { #expect(types.first == .initiated, "\(sequence)") }
            }
        }
    }
}

@Suite struct VoiceCallCommandTests {
    /// The error `body` threw; nil when it threw none (or another type: then the test fails on nil).
    func refusal(_ body: () throws -> Void) -> VoiceCommandError? {
        do { try body() } catch { return error as? VoiceCommandError }
        return nil
    }

    @Test func answerOnlyWhenRingingInbound() throws {
        var out = VoiceCallState(direction: .outbound)
        _ = out.handle(.dialed)
        let outbound = refusal { _ = try out.handle(.answer) }
        #expect(outbound?.code == .notInbound && outbound?.reason.contains("outbound") == true)
        var inbound = VoiceCallState(direction: .inbound)
        _ = inbound.handle(.offered)
        #expect(try inbound.handle(.answer) == [.sendAnswer])
        let twice = refusal { _ = try inbound.handle(.answer) }
        #expect(twice?.code == .alreadyAnswering)
        let rejectWhileAnswering = refusal { _ = try inbound.handle(.reject(cause: .callRejected)) }
        #expect(rejectWhileAnswering?.code == .alreadyAnswering)
        _ = inbound.handle(.answered)
        let again = refusal { _ = try inbound.handle(.answer) }
        #expect(again?.code == .callNotRinging && again?.reason == "answer: the call was already answered; use hangup to end it")
        _ = try inbound.handle(.hangup)
        let ended = refusal { _ = try inbound.handle(.answer) }
        #expect(ended?.code == .callEnded)
        #expect(ended?.reason == "answer: the call has already ended (normal_clearing, by the callee); it takes no more commands")
    }

    @Test func rejectAnswersWithTheCausesStatus() throws {
        var busy = VoiceCallState(direction: .inbound)
        _ = busy.handle(.offered)
        #expect(try busy.handle(.reject(cause: .userBusy)) == [.sendReject(sipStatus: 486), .changeState(.ended),
                                                               .emit(.hangup(VoiceHangup(cause: .userBusy, source: .callee, sipCause: "486")))])
        var declined = VoiceCallState(direction: .inbound)
        _ = declined.handle(.offered)
        #expect(emitted(try declined.handle(.reject(cause: .callRejected)))
                == [.hangup(VoiceHangup(cause: .callRejected, source: .callee, sipCause: "603"))])
        var active = try activeInbound()
        #expect(refusal { _ = try active.handle(.reject(cause: .userBusy)) }?.code == .callNotRinging)
    }

    @Test func hangupWhenNotEnded() throws {
        var inbound = VoiceCallState(direction: .inbound)
        _ = inbound.handle(.offered)
        #expect(try inbound.handle(.hangup) == [.sendReject(sipStatus: 480), .changeState(.ended),
                                                .emit(.hangup(VoiceHangup(cause: .normalClearing, source: .callee, sipCause: "480")))])
        let twice = refusal { _ = try inbound.handle(.hangup) }
        #expect(twice?.code == .callEnded)
    }

    @Test func mediaCommandsNeedAnActiveCall() throws {
        let digits = try DTMFSendString("123#")
        let commands: [VoiceCallCommand] = [.sendDTMF(digits, durationMilliseconds: 250), .playbackStart(source: "hold.wav"), .playbackStop,
                                            .recordStart, .recordStop, .bridge(otherCallControlID: "v3:other"), .transfer(to: "+15550001111"),
                                            .hold, .unhold, .mute, .unmute]
        for command in commands {
            var dialing = VoiceCallState(direction: .outbound)
            _ = dialing.handle(.dialed)
            let early = refusal { _ = try dialing.handle(command) }
            #expect(early?.code == .callNotActive && early?.reason.hasPrefix("\(command.name): the call is still dialing") == true)
            var ringing = VoiceCallState(direction: .inbound)
            _ = ringing.handle(.offered)
            let parked = refusal { _ = try ringing.handle(command) }
            #expect(parked?.reason == "\(command.name): the call is ringing and not answered (answer it first)")
            var ended = activeOutbound()
            _ = ended.handle(.farEndHangup)
            #expect(refusal { _ = try ended.handle(command) }?.code == .callEnded)
            #expect(ended == {
                var copy = activeOutbound()
                _ = copy.handle(.farEndHangup)
                return copy
            }(), "a refused command changes nothing")
        }
        var active = activeOutbound()
        #expect(try active.handle(.sendDTMF(digits, durationMilliseconds: 250)) == [.perform(.sendDTMF(digits, durationMilliseconds: 250))])
        #expect(try active.handle(.playbackStart(source: "https://example.com/a.wav")) == [.perform(.playbackStart(source: "https://example.com/a.wav"))])
        #expect(try active.handle(.playbackStop) == [.perform(.playbackStop)])
        #expect(try active.handle(.bridge(otherCallControlID: "v3:b")) == [.perform(.bridge(otherCallControlID: "v3:b"))])
        #expect(try active.handle(.transfer(to: "+15550001111")) == [.perform(.transfer(to: "+15550001111"))])
    }

    @Test func recordingStartsAndStopsOnce() throws {
        var call = activeOutbound()
        #expect(refusal { _ = try call.handle(.recordStop) }?.code == .notRecording)
        #expect(try call.handle(.recordStart) == [.perform(.recordStart)])
        #expect(call.recording)
        let twice = refusal { _ = try call.handle(.recordStart) }
        #expect(twice?.code == .alreadyRecording && twice?.reason.contains("record_stop") == true)
        #expect(try call.handle(.recordStop) == [.perform(.recordStop)])
        #expect(!call.recording)
        _ = try call.handle(.recordStart)
        _ = call.handle(.recordingStopped)
        #expect(!call.recording, "the media side may end a recording by itself")
        #expect(try call.handle(.recordStart) == [.perform(.recordStart)])
        _ = call.handle(.farEndHangup)
        #expect(!call.recording)
    }

    @Test func muteAndHoldAreIdempotent() throws {
        var call = activeOutbound()
        #expect(try call.handle(.mute) == [.perform(.mute)])
        #expect(try call.handle(.mute) == [])
        #expect(call.muted)
        #expect(try call.handle(.unmute) == [.perform(.unmute)])
        #expect(try call.handle(.unmute) == [])
        #expect(try call.handle(.unhold) == [], "not held")
        #expect(try call.handle(.hold) == [.perform(.hold)])
        #expect(try call.handle(.hold) == [])
        #expect(call.held)
        #expect(try call.handle(.unhold) == [.perform(.unhold)])
        #expect(!call.held)
    }

    @Test func clientStateIsReplacedOnlyByAnAcceptedCommand() throws {
        var call = VoiceCallState(direction: .outbound, clientState: "Zmlyc3Q=")
        _ = call.handle(.dialed)
        #expect(refusal { _ = try call.handle(.mute, clientState: "c2Vjb25k") }?.code == .callNotActive)
        #expect(call.clientState == "Zmlyc3Q=", "a refused command leaves client_state")
        _ = call.handle(.answered)
        let bad = refusal { _ = try call.handle(.mute, clientState: "not base64!") }
        #expect(bad?.code == .invalidClientState && bad?.reason.hasPrefix("client_state: 'not base64!' is not base64") == true)
        #expect(!call.muted, "a bad client_state refuses the whole command")
        _ = try call.handle(.mute, clientState: "c2Vjb25k")
        #expect(call.clientState == "c2Vjb25k" && call.muted)
        _ = try call.handle(.unmute)
        #expect(call.clientState == "c2Vjb25k", "a command without client_state keeps it")
    }

    @Test func clientStateValidation() {
        #expect(throws: Never.self) { try ClientState.validate("aGF2ZSBhIG5pY2UgZGF5ID1d") }
        #expect((try? ClientState.validate("")) == nil)
        #expect((try? ClientState.validate("abc")) == nil, "unpadded")
        #expect((try? ClientState.validate(String(repeating: "A", count: 4100))) == nil)
        do {
            _ = try ClientState.validate(String(repeating: "A", count: 4100))
        } catch {
            #expect(error.reason == "client_state: 4100 characters, more than 4096")
        }
    }

    @Test func commandNamesAreTelnyxActionNames() throws {
        #expect(VoiceCallCommand.answer.name == "answer")
        #expect(VoiceCallCommand.reject(cause: .userBusy).name == "reject")
        #expect(VoiceCallCommand.sendDTMF(try DTMFSendString("1"), durationMilliseconds: 250).name == "send_dtmf")
        #expect(VoiceCallCommand.playbackStart(source: "a").name == "playback_start")
        #expect(VoiceCallCommand.recordStop.name == "record_stop")
        #expect(VoiceCallCommand.RejectCause.callRejected.sipStatus == 603 && VoiceCallCommand.RejectCause.userBusy.sipStatus == 486)
    }
}

@Suite struct DTMFSendStringTests {
    @Test func acceptsKeysAndPauses() throws {
        let all = try DTMFSendString("0123456789*#ABCD")
        #expect(all.keys == "0123456789*#ABCD" && all.elements.count == 16)
        let paused = try DTMFSendString("1w2W#")
        #expect(paused.elements == [.key("1"), .pause(milliseconds: 500), .key("2"), .pause(milliseconds: 1000), .key("#")])
        #expect(paused.keys == "12#" && paused.text == "1w2W#")
        #expect(try DTMFSendString(String(repeating: "1", count: 64)).elements.count == 64)
    }

    @Test func refusalsNameTheBadCharacter() {
        func reason(_ text: String) -> String? {
            do { _ = try DTMFSendString(text) } catch { return error.code == .invalidDigits ? error.reason : "wrong code" }
            return nil
        }
        #expect(reason("12x4") == "digits: '12x4' holds 'x' at position 3, which is not a DTMF key or pause (expected 1-64 of 0-9, *, #, A-D, with w (0.5 s) and W (1 s) pauses)")
        #expect(reason("1a")?.hasSuffix("; the keys A-D are upper case)") == true)
        #expect(reason("1 2")?.contains("holds ' ' at position 2") == true)
        #expect(reason("1E")?.contains("'E'") == true)
        #expect(reason("") == "digits: empty (expected 1-64 of 0-9, *, #, A-D, with w (0.5 s) and W (1 s) pauses)")
        #expect(reason(String(repeating: "1", count: 65))?.hasPrefix("digits: 65 characters, more than 64") == true)
        #expect(reason("１") != nil, "a full-width digit is not a key")
    }

    @Test func toneDuration() throws {
        #expect(try DTMFSendString.toneDuration(nil) == 250)
        #expect(try DTMFSendString.toneDuration(100) == 100)
        #expect(try DTMFSendString.toneDuration(500) == 500)
        #expect((try? DTMFSendString.toneDuration(99)) == nil)
        #expect((try? DTMFSendString.toneDuration(501)) == nil)
    }
}
