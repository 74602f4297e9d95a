const leftPad = require('left-pad');

exports.handler = async () => leftPad('worker', 10);
