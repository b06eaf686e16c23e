// The `none` verifier: step-up is off. It is never asked for a push in practice (the engine asks only when step-up
// is on); if it is, it answers an error, so that nothing is ever verified without a second factor.
import type { PushStarted, PushStatus, Verifier } from './port.js';

const OFF = 'step-up is off (step_up.provider is "none" in config.toml), so no push was sent';

export function createNoneVerifier(): Verifier {
  return {
    provider: 'none',
    startPush: async (): Promise<PushStarted> => ({ result: 'error', reason: OFF }),
    pushStatus: async (): Promise<PushStatus> => ({ result: 'error', reason: OFF }),
  };
}
