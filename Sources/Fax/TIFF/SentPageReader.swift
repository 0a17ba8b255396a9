internal import CSpanDSP
import Dispatch
import Synchronization

/// Decodes the pages a sending terminal will need before spandsp asks for them.
///
/// spandsp 0.0.6 starts a page to send by reading it from the TIFF (libtiff decodes it row by
/// row: about 3.4 ms for a dense fine page) and encoding it for the line, both inside the media
/// tick that starts the page. Fed through its row read handler (`cspandsp_tx_page_source_install`)
/// it only encodes: this reader decodes the next page on a utility queue when T.30 reaches the
/// post-page exchange of the page before it (phase D), so the decoded image lives for a second or
/// two, not a whole page. The first page is read by spandsp itself: t4_tx_init opens the file and
/// starts the first page in the same call, before any handler can be in place.
///
/// Used only for documents whose pages all share page 0's width and resolution
/// (`cspandsp_tx_document_uniform`), since spandsp reads neither again for a page it is fed;
/// others are read by spandsp as before.
final class SentPageReader: @unchecked Sendable {
    private enum Entry {
        case queued(DispatchSemaphore)
        case running(DispatchSemaphore)
        case ready(UInt, Int, Int)   // address of the malloc'd rows, bytes per row, rows
        case claimed
    }

    private struct State {
        /// nil until the utility queue has looked at the document.
        var uniformPages: Int?? = .none
        var pages: [Int: Entry] = [:]
        /// Pages handed to spandsp: decoded ahead, or decoded at the moment it asked.
        var fedAhead = 0
        var fedLate = 0
    }

    private let path: String
    private let state = Mutex(State())

    init(path: String) {
        self.path = path
        DispatchQueue.global(qos: .utility).async { [self] in
            var pages: Int32 = 0
            let uniform = cspandsp_tx_document_uniform(path, &pages) == 1
            state.withLock { $0.uniformPages = .some(uniform ? Int(pages) : nil) }
        }
    }

    deinit {
        state.withLock { state in
            for case .ready(let address, _, _) in state.pages.values {
                free(UnsafeMutableRawPointer(bitPattern: address))
            }
        }
    }

    /// nil until the document was looked at; then its page count when it is fit for feeding, 0
    /// when it is not.
    var fitness: Int? {
        state.withLock { state in
            switch state.uniformPages {
            case .none: return nil
            case .some(.none): return 0
            case .some(.some(let pages)): return pages
            }
        }
    }

    /// Starts decoding page `index` on a utility queue unless it was already asked for.
    func prefetch(_ index: Int) {
        let semaphore = DispatchSemaphore(value: 0)
        let start = state.withLock { state -> Bool in
            guard state.pages[index] == nil else { return false }
            state.pages[index] = .queued(semaphore)
            return true
        }
        guard start else { return }
        DispatchQueue.global(qos: .utility).async { [self] in
            let mine = state.withLock { state -> Bool in
                guard case .queued = state.pages[index] else { return false }   // claimed by the owner
                state.pages[index] = .running(semaphore)
                return true
            }
            guard mine else {
                semaphore.signal()
                return
            }
            let page = decode(index)
            state.withLock { $0.pages[index] = .ready(page.address, page.bytesPerRow, page.rows) }
            semaphore.signal()
        }
    }

    /// The rows of page `index`, now (the owner's thread, inside spandsp's start of the page):
    /// prefetched ones at once; one being decoded is waited for (it is already running, so at
    /// most one page's decoding); one not started yet is decoded here. The caller owns the buffer.
    func take(_ index: Int) -> (rows: UnsafeMutablePointer<UInt8>?, bytesPerRow: Int, count: Int) {
        while true {
            enum Next { case use(UInt, Int, Int), wait(DispatchSemaphore), decodeHere }
            let next = state.withLock { state -> Next in
                switch state.pages[index] {
                case .ready(let address, let stride, let rows)?:
                    state.pages[index] = .claimed
                    state.fedAhead += 1
                    return .use(address, stride, rows)
                case .running(let semaphore)?:
                    return .wait(semaphore)
                case .queued?, .claimed?, nil:
                    state.pages[index] = .claimed
                    state.fedLate += 1
                    return .decodeHere
                }
            }
            switch next {
            case .use(let address, let stride, let rows):
                return (UnsafeMutablePointer(bitPattern: address), stride, rows)
            case .wait(let semaphore):
                semaphore.wait()
                semaphore.signal()
            case .decodeHere:
                let page = decode(index)
                return (UnsafeMutablePointer(bitPattern: page.address), page.bytesPerRow, page.rows)
            }
        }
    }

    /// Pages fed to spandsp so far: decoded ahead, and decoded when spandsp asked (late).
    var fed: (ahead: Int, late: Int) { state.withLock { ($0.fedAhead, $0.fedLate) } }

    /// Waits until no page is queued or being decoded (tests: stands in for the second or more of
    /// wall time between T.30's phase D and the next page, which a manual clock does not have).
    func waitForPending() {
        while let semaphore = state.withLock({ state -> DispatchSemaphore? in
            for entry in state.pages.values {
                switch entry {
                case .queued(let semaphore), .running(let semaphore): return semaphore
                default: continue
                }
            }
            return nil
        }) {
            semaphore.wait()
            semaphore.signal()
        }
    }

    private func decode(_ index: Int) -> (address: UInt, bytesPerRow: Int, rows: Int) {
        var stride: Int32 = 0, rows: Int32 = 0
        let image = cspandsp_tx_decode_page(path, Int32(index), &stride, &rows)
        return (UInt(bitPattern: image), Int(stride), Int(rows))
    }
}
