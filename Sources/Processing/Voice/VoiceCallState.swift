import Store

/// One call leg's control state as a value: SIP-side events and application commands go in,
/// actions come out (state to persist, webhooks to queue, SIP messages and media commands to
/// perform); the owner performs them. `call.initiated`, `call.answered` and `call.hangup` are
/// each emitted at most once and in that order; `call.hangup` always follows `call.initiated`.
/// Outbound: dialing -> ringing (180/183) -> active -> ended. Inbound: ringing (parked, waiting
/// for `answer`) -> active -> ended. Telnyx Call Control v2: call lifecycle
public struct VoiceCallState: Sendable, Equatable {
    /// Which way the call goes; fixed.
    public let direction: VoiceCall.Direction
    /// The call log's state.
    public private(set) var state: VoiceCall.State
    /// True once `call.initiated` was emitted.
    public private(set) var initiated = false
    /// True between an accepted `answer` and the `answered` event (inbound).
    public private(set) var answering = false
    /// True between `record_start` and `record_stop` (or the end of the recording).
    public private(set) var recording = false
    /// True while our audio is not forwarded to the far end.
    public private(set) var muted = false
    /// True while the far end is on hold.
    public private(set) var held = false
    /// The client_state later webhooks echo (the dial's, then the last command's that carried one).
    public private(set) var clientState: String?
    /// How the call ended, once it did.
    public private(set) var hangup: VoiceHangup?

    /// A call not yet reported: outbound starts `dialing`, inbound `ringing`. Telnyx Call Control v2: call.initiated
    public init(direction: VoiceCall.Direction, clientState: String? = nil) {
        self.direction = direction
        state = direction == .inbound ? .ringing : .dialing
        self.clientState = clientState
    }

    /// One side of the call as faxd sees it: faxd (for the application) or the far end.
    public enum Party: Sendable, Equatable { case local, remote }

    /// Why faxd itself ends a call. Telnyx Call Control v2: hangup
    public enum LocalHangupReason: Sendable, Equatable {
        /// The application's `hangup` command.
        case command
        /// The call reached its maximum duration.
        case timeLimit
        /// No media from the far end for the media timeout.
        case mediaTimeout
        /// faxd is stopping.
        case shutdown
    }

    /// What happened on the SIP side (or a timer). RFC 3261 sections 13 and 15
    public enum Event: Sendable, Equatable {
        /// The INVITE went out (outbound).
        case dialed
        /// An INVITE arrived for a voice DID (inbound).
        case offered
        /// A provisional response: 180 Ringing or 183 Session Progress (outbound).
        case ringing(sipStatus: Int)
        /// The call was answered: 200 OK received (outbound) or our 200 OK acknowledged (inbound).
        case answered
        /// The far end sent BYE.
        case farEndHangup
        /// faxd ends the call (sends BYE, CANCEL or a final response as the state needs).
        case localHangup(LocalHangupReason)
        /// The INVITE was cancelled before answer, by faxd or the far end.
        case cancelledBeforeAnswer(by: Party)
        /// A final failure response ended the call (received for outbound, sent for inbound),
        /// or the dialog failed later (481, 408 on a re-INVITE).
        case failed(sipStatus: Int, reason: String)
        /// faxd's no-answer timer fired (timeout_secs).
        case noAnswerTimeout
        /// The media side stopped recording by itself (the WAV was saved or failed).
        case recordingStopped
    }

    /// What the owner must do, in order. Telnyx Call Control v2: call lifecycle
    public enum Action: Sendable, Equatable {
        /// Queue this webhook (through the outbox).
        case emit(VoiceWebhookEvent)
        /// Persist the new state (stamping answered_at or ended_at, and the hangup fields).
        case changeState(VoiceCall.State)
        /// Start the no-answer timer (outbound, `timeout_secs`).
        case armNoAnswerTimer
        /// Stop the no-answer timer.
        case disarmNoAnswerTimer
        /// Answer the INVITE with 200 OK and our SDP.
        case sendAnswer
        /// Answer the INVITE with this final failure status.
        case sendReject(sipStatus: Int)
        /// CANCEL our INVITE.
        case sendCancel
        /// End the dialog with BYE.
        case sendBye
        /// Carry out this media command (DTMF, playback, recording, bridge, transfer, hold, mute).
        case perform(VoiceCallCommand)
    }

    /// The hangup source of `party` on this call: faxd is the caller of an outbound call and the
    /// callee of an inbound one. Telnyx Call Control v2: call.hangup hangup_source
    public func source(of party: Party) -> VoiceCall.HangupSource {
        switch (direction, party) {
        case (.outbound, .local), (.inbound, .remote): .caller
        case (.outbound, .remote), (.inbound, .local): .callee
        }
    }

    // MARK: Events

    /// Applies a SIP-side event; returns what to do. Events that do not fit the state (a
    /// retransmitted 200 OK, a timer that raced the answer) change nothing. Telnyx Call Control v2: call lifecycle
    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .dialed:
            guard direction == .outbound, !initiated, state != .ended else { return [] }
            return initiate() + [.armNoAnswerTimer]
        case .offered:
            guard direction == .inbound, !initiated, state != .ended else { return [] }
            return initiate()
        case .ringing(let status):
            guard direction == .outbound, state == .dialing, (180...199).contains(status) else { return [] }
            state = .ringing
            return initiate() + [.changeState(.ringing)]
        case .answered:
            switch state {
            case .dialing, .ringing:
                answering = false
                state = .active
                var actions = initiate()
                if direction == .outbound { actions.append(.disarmNoAnswerTimer) }
                return actions + [.changeState(.active), .emit(.answered)]
            case .active:
                return []
            case .ended:
                // A 200 OK that crossed our CANCEL: the far end thinks the call is up; end it. RFC 3261 section 9.1
                return direction == .outbound ? [.sendBye] : []
            }
        case .farEndHangup:
            switch state {
            case .ended: return []
            case .active: return end(VoiceHangup(cause: .normalClearing, source: source(of: .remote), sipCause: VoiceHangup.unspecifiedSIPCause))
            case .dialing, .ringing:
                // A BYE before answer can only end an early dialog; for inbound it is the caller giving up.
                if direction == .inbound { return handle(.cancelledBeforeAnswer(by: .remote)) }
                return end(VoiceHangup(cause: .unspecified, source: .callee, sipCause: VoiceHangup.unspecifiedSIPCause))
            }
        case .localHangup(let reason):
            return localHangup(reason)
        case .cancelledBeforeAnswer(let party):
            guard state == .dialing || state == .ringing else { return [] }
            // Only the caller can CANCEL (RFC 3261 section 9); the party says which side that was.
            return end(VoiceHangup(cause: .originatorCancel, source: source(of: party), sipCause: "487"))
        case .failed(let status, _):
            switch state {
            case .ended: return []
            case .dialing, .ringing: return end(VoiceHangup.failure(sipStatus: status))
            case .active:
                return end(VoiceHangup(cause: VoiceHangup.cause(forSIPStatus: status), source: .unknown, sipCause: String(status)))
            }
        case .noAnswerTimeout:
            guard state == .dialing || state == .ringing else { return [] }
            let hangup = VoiceHangup(cause: .timeout, source: source(of: .local), sipCause: VoiceHangup.unspecifiedSIPCause)
            return (direction == .outbound ? [.sendCancel] : [.sendReject(sipStatus: 480)]) + end(hangup)
        case .recordingStopped:
            recording = false
            return []
        }
    }

    private mutating func initiate() -> [Action] {
        guard !initiated else { return [] }
        initiated = true
        return [.emit(.initiated)]
    }

    private mutating func end(_ hangup: VoiceHangup) -> [Action] {
        guard state != .ended else { return [] }
        var actions = initiate()
        if direction == .outbound && state != .active { actions.append(.disarmNoAnswerTimer) }
        state = .ended
        answering = false
        recording = false
        self.hangup = hangup
        return actions + [.changeState(.ended), .emit(.hangup(hangup))]
    }

    private mutating func localHangup(_ reason: LocalHangupReason) -> [Action] {
        let local = source(of: .local)
        let unspecified = VoiceHangup.unspecifiedSIPCause
        switch state {
        case .ended:
            return []
        case .active:
            let cause: VoiceCall.HangupCause = switch reason {
            case .command: .normalClearing
            case .timeLimit: .timeLimit
            case .mediaTimeout, .shutdown: .unspecified
            }
            return [.sendBye] + end(VoiceHangup(cause: cause, source: local, sipCause: unspecified))
        case .dialing, .ringing:
            if direction == .outbound {
                // Giving up on our own INVITE is the caller cancelling.
                return [.sendCancel] + end(VoiceHangup(cause: .originatorCancel, source: local, sipCause: "487"))
            }
            // An inbound call hung up before answer gets 480 Temporarily Unavailable.
            let cause: VoiceCall.HangupCause = reason == .command ? .normalClearing : .unspecified
            return [.sendReject(sipStatus: 480)] + end(VoiceHangup(cause: cause, source: local, sipCause: "480"))
        }
    }

    // MARK: Commands

    /// Checks an application command against the state and applies it; returns what to do. A
    /// command the state does not allow throws with the reason (nothing changes); a valid
    /// `client_state` replaces the echoed one once the command is accepted. Repeating mute,
    /// unmute, hold or unhold is accepted and does nothing. Telnyx Call Control v2: call commands
    public mutating func handle(_ command: VoiceCallCommand, clientState: String? = nil) throws(VoiceCommandError) -> [Action] {
        var newClientState: String?
        if let clientState { newClientState = try ClientState.validate(clientState) }
        let actions = try apply(command)
        if let newClientState { self.clientState = newClientState }
        return actions
    }

    private mutating func apply(_ command: VoiceCallCommand) throws(VoiceCommandError) -> [Action] {
        let name = command.name
        if state == .ended {
            let how = hangup.map { " (\($0.cause.rawValue), by the \($0.source.rawValue))" } ?? ""
            throw VoiceCommandError(.callEnded, "\(name): the call has already ended\(how); it takes no more commands")
        }
        switch command {
        case .answer, .reject:
            guard direction == .inbound else {
                throw VoiceCommandError(.notInbound, "\(name): the call is outbound; only a ringing inbound call can be answered or rejected (use hangup)")
            }
            guard state == .ringing else {
                throw VoiceCommandError(.callNotRinging, "\(name): the call was already answered; use hangup to end it")
            }
            guard !answering else {
                throw VoiceCommandError(.alreadyAnswering, "\(name): an answer is already under way; wait for call.answered (or hang up)")
            }
            if case .reject(let cause) = command {
                let hangup = VoiceHangup(cause: cause == .userBusy ? .userBusy : .callRejected, source: source(of: .local),
                                         sipCause: String(cause.sipStatus))
                return [.sendReject(sipStatus: cause.sipStatus)] + end(hangup)
            }
            answering = true
            return [.sendAnswer]
        case .hangup:
            return localHangup(.command)
        case .sendDTMF, .playbackStart, .playbackStop, .bridge, .transfer, .streamingStart, .streamingStop:
            try requireActive(name)
            return [.perform(command)]
        case .recordStart:
            try requireActive(name)
            guard !recording else {
                throw VoiceCommandError(.alreadyRecording, "record_start: the call is already being recorded; send record_stop first")
            }
            recording = true
            return [.perform(command)]
        case .recordStop:
            try requireActive(name)
            guard recording else {
                throw VoiceCommandError(.notRecording, "record_stop: the call is not being recorded (send record_start first)")
            }
            recording = false
            return [.perform(command)]
        case .hold, .unhold:
            try requireActive(name)
            let want = command == .hold
            guard held != want else { return [] }
            held = want
            return [.perform(command)]
        case .mute, .unmute:
            try requireActive(name)
            let want = command == .mute
            guard muted != want else { return [] }
            muted = want
            return [.perform(command)]
        }
    }

    private func requireActive(_ name: String) throws(VoiceCommandError) {
        switch state {
        case .active, .ended: return
        case .dialing:
            throw VoiceCommandError(.callNotActive, "\(name): the call is still dialing; send it after call.answered")
        case .ringing:
            let what = direction == .inbound ? "ringing and not answered (answer it first)" : "ringing, not answered yet; send it after call.answered"
            throw VoiceCommandError(.callNotActive, "\(name): the call is \(what)")
        }
    }
}
