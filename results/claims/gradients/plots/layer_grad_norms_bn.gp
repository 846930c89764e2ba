# Re-plot by hand: gnuplot layer_grad_norms_bn.gp (writes layer_grad_norms_bn.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('layer_grad_norms_bn.gp')]
if (!exists('out')) out = here . 'layer_grad_norms_bn.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'Per-layer gradient norms, bn'
set xlabel 'step'
set ylabel '‖dL/dW_l‖ on the probe batch'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
set ytics (0.1, 0.2, 0.5, 1, 2)
plot here . 'layer_grad_norms_bn.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'conv1', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'conv2', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'conv3', \
     '' index 3 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, '' index 3 using 1:2 with lines lw 2 lc 4 title 'conv4', \
     '' index 4 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 5 notitle, '' index 4 using 1:2 with lines lw 2 lc 5 title 'conv5', \
     '' index 5 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 6 notitle, '' index 5 using 1:2 with lines lw 2 lc 6 title 'fc6'
