/** What a guarded function receives. */
export interface FireContext {
  /** Aborted when the call times out or the caller aborts; made on first use, one per call. */
  readonly signal: AbortSignal;
}

/** One call's context; its AbortController is created only if the function reads `signal`. */
export class CallContext implements FireContext {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller === undefined) {
      controller = this.#controller = new AbortController();
      if (this.#aborted) controller.abort(this.#reason);
    }
    return controller.signal;
  }

  /** Aborts the call's signal, now or when it is first read. */
  static abort(context: CallContext, reason: unknown): void {
    // Stryker disable next-line ConditionalExpression: a call aborts its context once (timeout or caller), never twice
    if (context.#aborted) return;
    context.#aborted = true;
    context.#reason = reason;
    context.#controller?.abort(reason);
  }
}
