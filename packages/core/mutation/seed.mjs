// One seed for fast-check in mutation runs (FC_SEED overrides it): a mutant is killed or not by the
// same commands every time it runs.
import fc from 'fast-check';

fc.configureGlobal({ seed: Number.parseInt(process.env.FC_SEED ?? '', 10) || 20_261_202 });
