import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// How system calls outside a thread's allow-list are treated.
package enum FilterMode: String, Sendable, CaseIterable {
    /// The process stops at the first forbidden call (SIGSYS; one line on stderr naming the
    /// call and the thread; exit status 16). The default.
    case enforce
    /// Forbidden calls are allowed and logged by the kernel (audit log / dmesg): for finding
    /// what an allow-list lacks.
    case log
    /// No filters. Unsafe: a guest that takes over the VMM has every system call of the host.
    case off
}

/// Why a filter could not be installed.
package struct SandboxError: Error, Equatable, Sendable, CustomStringConvertible {
    package let description: String
    /// The call that failed and its errno, when one did.
    package let failedCall: (operation: String, errno: Int32)?

    init(_ description: String, operation: String? = nil, errno: Int32? = nil) {
        self.description = description
        failedCall = operation.flatMap { operation in errno.map { (operation, $0) } }
    }

    package static func == (lhs: SandboxError, rhs: SandboxError) -> Bool {
        lhs.description == rhs.description && lhs.failedCall?.operation == rhs.failedCall?.operation
            && lhs.failedCall?.errno == rhs.failedCall?.errno
    }
}

/// A seccomp allow-list being built (libseccomp), then loaded on the calling thread (or, with
/// `allThreads`, on every thread of the process).
struct SeccompFilter {
    /// The rules, without repeats (libseccomp refuses a rule twice).
    let rules: [SeccompRule]
    /// clone(2) only for new threads (never a new process); clone3 answers ENOSYS.
    let threadsOnlyClone: Bool

    init(rules: [SeccompRule], threadsOnlyClone: Bool = true) {
        var seen = Set<SeccompRule>()
        self.rules = rules.filter { seen.insert($0).inserted }
        self.threadsOnlyClone = threadsOnlyClone
    }

    /// Loads the filter. `mode` .off does nothing.
    func load(mode: FilterMode, allThreads: Bool) throws(SandboxError) {
        guard mode != .off else { return }
        guard let context = cseccomp_new(Int32(mode == .log ? CSECCOMP_LOG.rawValue : CSECCOMP_TRAP.rawValue)) else {
            throw SandboxError("seccomp: cannot create a filter (libseccomp)")
        }
        for rule in rules {
            let conditions = rule.conditions.map { condition in
                cseccomp_condition(
                    argument: condition.argument, operation: UInt32(CSECCOMP_MASKED_EQUAL.rawValue),
                    mask: condition.mask, value: condition.value)
            }
            let error: Int32
            switch rule.outcome {
            case .allow: error = 0
            case .fail(let code): error = code
            }
            // The array is passed as a pointer for the call only; the rule copies the comparisons.
            let result = cseccomp_add_rule(context, rule.call, error, conditions, UInt32(conditions.count))
            // A name this kernel or libseccomp does not know is simply not needed here.
            if result != 0, cseccomp_resolve(rule.call) >= 0 {
                cseccomp_release(context)
                throw SandboxError(
                    "seccomp: cannot add the rule \(rule) (errno \(-result))", operation: "seccomp_rule_add",
                    errno: -result)
            }
        }
        if threadsOnlyClone, cseccomp_allow_clone_threads(context) != 0 {
            cseccomp_release(context)
            throw SandboxError("seccomp: cannot allow clone for threads")
        }
        let result = cseccomp_load(context, allThreads ? 1 : 0)
        guard result == 0 else {
            throw SandboxError(
                "seccomp: loading the filter failed (errno \(-result))", operation: "seccomp_load", errno: -result)
        }
    }
}
