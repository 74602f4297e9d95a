// A small CDK app for the layerpack tests: `synth.sh` runs `cdk synth` on it, and the tests run
// `layerpack check --cdk` on the cloud assembly it writes.
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');

const app = new cdk.App();
const stack = new cdk.Stack(app, 'LayerpackDemo');

// A folder asset, declared for x86_64 only.
const shared = new lambda.LayerVersion(stack, 'SharedLayer', {
  code: lambda.Code.fromAsset('layers/shared'),
  compatibleRuntimes: [lambda.Runtime.PYTHON_3_12],
  compatibleArchitectures: [lambda.Architecture.X86_64],
});

// A zip asset, as `Code.fromAsset('dist/tools.zip')` stages it: laid out without `nodejs/`.
const tools = new lambda.LayerVersion(stack, 'ToolsLayer', {
  code: lambda.Code.fromAsset('dist/tools.zip'),
  compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
});

const powertools = lambda.LayerVersion.fromLayerVersionArn(
  stack,
  'Powertools',
  'arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:7',
);

new lambda.Function(stack, 'Api', {
  runtime: lambda.Runtime.PYTHON_3_12,
  architecture: lambda.Architecture.ARM_64,
  handler: 'app.handler',
  code: lambda.Code.fromAsset('functions/api'),
  layers: [shared, powertools],
});

new lambda.Function(stack, 'Worker', {
  runtime: lambda.Runtime.NODEJS_22_X,
  handler: 'index.handler',
  code: lambda.Code.fromAsset('functions/worker'),
  layers: [tools],
});

new lambda.Function(stack, 'Ping', {
  runtime: lambda.Runtime.PYTHON_3_12,
  handler: 'index.handler',
  code: lambda.Code.fromInline('def handler(event, context):\n    return "pong"\n'),
});

app.synth();
