// The baseline of `npm run bench:synth`: an App with no stacks, run by the same runner as bin/app.ts.
import { App } from 'aws-cdk-lib';

new App().synth();
