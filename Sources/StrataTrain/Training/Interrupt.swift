import Foundation
import Synchronization

/// Ctrl-C during training: the first SIGINT asks the loop to stop at the end of the current step (it then
/// saves a checkpoint and marks the run interrupted); a second one exits at once.
public enum Interrupt {
    // The one process-wide flag: a signal handler cannot capture context, so it must be static.
    private static let requested = Atomic<Int>(0)

    /// Installs the handler (idempotent).
    public static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested.add(1, ordering: .relaxed).newValue >= 2 { _exit(130) }
        }
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) > 0 }
}
