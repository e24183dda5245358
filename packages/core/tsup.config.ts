import { packageConfig } from '../../tsup.base.js';

export default packageConfig({ index: 'src/index.ts', testing: 'src/testing.ts', http: 'src/http/index.ts' });
